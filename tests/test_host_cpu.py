"""host.cpu_facts: the int8-relevant instruction sets read off /proc/cpuinfo, and the one-line expectation."""

from __future__ import annotations

from fashion_edge.host import cpu_facts

X86_VNNI = "model name\t: Intel(R) Xeon(R) Platinum 8375C\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni fma\n"
X86_AVX2 = "model\t\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma\n"
PI5 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n"
PI3 = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nHardware\t: BCM2835\n"


def test_x86_vnni_is_told_apart_from_avx2_only():
    vnni, avx2 = cpu_facts(X86_VNNI), cpu_facts(X86_AVX2)
    assert vnni["model"].startswith("Intel") and avx2["model"] == "AMD EPYC"
    assert vnni["int8_instructions"] == ["AVX2", "AVX-512", "AVX-512 VNNI"]
    assert avx2["int8_instructions"] == ["AVX2"]
    assert "faster" in vnni["int8_expectation"] and "no faster" in avx2["int8_expectation"]


def test_arm_dot_product_and_plain_neon():
    pi5, pi3 = cpu_facts(PI5), cpu_facts(PI3)
    assert pi5["int8_instructions"] == ["NEON", "NEON dot-product", "fp16 arithmetic"]
    assert pi3["int8_instructions"] == ["NEON"] and pi3["model"] == "BCM2835"
    assert "dot-product" in pi5["int8_expectation"] and "without dot-product" in pi3["int8_expectation"]


def test_unreadable_cpuinfo_says_unknown():
    facts = cpu_facts("")
    assert facts == {"model": "unknown", "int8_instructions": [], "int8_expectation": facts["int8_expectation"]}
    assert "no SIMD int8 kernels" in facts["int8_expectation"]
