/* Compiled per-frame kernels for edge/locate.py and edge/preprocess.py: the frame's gray, halved; the working copy's
 * blur; the smooth lighting fit and its cell means; the background, ink, noise and polarity of the working copy; the
 * shadow steps' robust fit; the candidate objects (the ink's blobs closed and labelled, grown by their neighbours, each
 * object's ink statistics and upright angle); the garment crop's ink, its box and the finished model input. Each is
 * one Python function made one call (`gray_half`, `_smooth`, `_fit_smooth`, `_background_ink`, `_fit_steps`,
 * `find_candidates`, `Scene.ink_of`, `_ink_box`, `_model_input`; `blobs` and `blob` expose `find_candidates`' labelling
 * and measure on their own, for the tests to hold to OpenCV's), whose numpy and OpenCV code stays as its reference: a
 * frame's ~85 small numpy and OpenCV calls there cost more than their arithmetic. The same steps and constants (passed
 * in from Python), with OpenCV's own rounding rules where an output depends on them; tests/test_edge_kernels.py holds
 * each kernel to its reference.
 *
 * Optional: where no C compiler is, the package installs without it and the references run (edge/kernels.py). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))  /* (into the AVX2 clones below too) */
#else
#define ALWAYS_INLINE inline
#endif

/* Scratch buffers are static: every kernel runs holding the GIL, so one call at a time. */

#define K 6                  /* quadratic surface terms: 1 u v u^2 uv v^2 */
#define MIN_ROWS 12          /* fewer inliers than this: keep the last fit (as _solve_robust) */
#define SIGMAS_MAD 4.4478    /* a robust fit's inliers lie within 3 sigmas, sigma = 1.4826 MAD */
#define MAX_CELLS 4096       /* the cell grid is ~20 x 15 */
#define MAX_NOISE_SAMPLES 65536
#define MAX_SIDE 4096        /* the working copy is 160 px a side */
#define MAX_CROP_PIXELS 65536  /* 256 x 256: a crop is at most CROP_SIDE (112) a side */
#define MAX_COLUMNS 16       /* a surface's 6 terms and up to 10 shadow steps */
#define MAX_ROWS 16384       /* the shadow fit's points: every third pixel of the working copy, 2,160 */
#define MAX_WIDTH 16384      /* a frame's width, for gray_half's vector path (wider frames take the plain one) */

/* The k-th smallest of a[0..n-1] (0-based), reordering a: numpy's partition(k)[k]. */
static double kth(double *a, Py_ssize_t n, Py_ssize_t k) {
    Py_ssize_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = a[lo + (hi - lo) / 2];
        Py_ssize_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                double t = a[i]; a[i] = a[j]; a[j] = t;
                i++; j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

/* The upper median (locate._median): 0 for no values. */
static double upper_median(double *a, Py_ssize_t n) { return n ? kth(a, n, n / 2) : 0.0; }

/* Solve (G + ridge I) x = r for a symmetric positive definite k x k G (k <= MAX_COLUMNS) by Cholesky; 0 if not. */
static int solve_spd(double g[MAX_COLUMNS][MAX_COLUMNS], const double *r, int k, double ridge, double *x) {
    double l[MAX_COLUMNS][MAX_COLUMNS] = {{0}}, y[MAX_COLUMNS];
    for (int i = 0; i < k; i++)
        for (int j = 0; j <= i; j++) {
            double s = g[i][j] + (i == j ? ridge : 0.0);
            for (int p = 0; p < j; p++) s -= l[i][p] * l[j][p];
            if (i == j) {
                if (!(s > 0.0)) return 0;
                l[i][i] = sqrt(s);
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    for (int i = 0; i < k; i++) {
        double s = r[i];
        for (int p = 0; p < i; p++) s -= l[i][p] * y[p];
        y[i] = s / l[i][i];
    }
    for (int i = k - 1; i >= 0; i--) {
        double s = y[i];
        for (int p = i + 1; p < k; p++) s -= l[p][i] * x[p];
        x[i] = s / l[i][i];
    }
    return 1;
}

/* Least squares of z on the design's rows where use[i] (ridge on the normal equations); 0 if fewer than min_rows. */
static int fit_rows(const double (*d)[K], const double *z, const unsigned char *use, Py_ssize_t n, double ridge,
                    Py_ssize_t min_rows, double coef[K]) {
    double g[MAX_COLUMNS][MAX_COLUMNS] = {{0}}, r[K] = {0};
    Py_ssize_t rows = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!use[i]) continue;
        rows++;
        for (int a = 0; a < K; a++) {
            r[a] += d[i][a] * z[i];
            for (int b = 0; b <= a; b++) g[a][b] += d[i][a] * d[i][b];
        }
    }
    if (rows < min_rows) return 0;
    for (int a = 0; a < K; a++)
        for (int b = a + 1; b < K; b++) g[a][b] = g[b][a];
    return solve_spd(g, r, K, ridge, coef);
}

static void residuals(const double (*d)[K], const double *z, Py_ssize_t n, const double coef[K], double *res) {
    for (Py_ssize_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int a = 0; a < K; a++) s += d[i][a] * coef[a];
        res[i] = z[i] - s;
    }
}

/* use[i]: whether point i's residual is within `sigmas_mad` times the median absolute residual of the points where
 * `among`, plus 3e-3, and at least 0.01 (_solve_robust's limit). */
static void inliers(const double *res, const unsigned char *among, Py_ssize_t n, double sigmas_mad,
                    unsigned char *use, double *scratch) {
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (among[i]) scratch[m++] = fabs(res[i]);
    double limit = sigmas_mad * upper_median(scratch, m) + 3e-3;
    if (limit < 0.01) limit = 0.01;
    for (Py_ssize_t i = 0; i < n; i++) use[i] = fabs(res[i]) < limit;
}

/* fit_smooth(cells, h, w, cell, band, fits, ridge, far) -> (coef tuple, sides): locate._fit_smooth. `cells` the
 * float32 h x w means of the working copy (cell 1), or the working copy itself, h x w blocks of cell x cell; `band` the border band's width in cells; `far` how far two adjacent side cells must be
 * missed the same way for that side to count. */
static PyObject *fit_smooth(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t h, w, band;
    int fits;
    double ridge, far;
    Py_ssize_t cell;
    if (!PyArg_ParseTuple(args, "y*nnnnidd", &buf, &h, &w, &cell, &band, &fits, &ridge, &far)) return NULL;
    Py_ssize_t n = h * w;
    if (h < 3 || w < 3 || n > MAX_CELLS || cell < 1 || cell > 64 ||
        buf.len != n * cell * cell * (Py_ssize_t)sizeof(float) || fits < 1) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "fit_smooth: an h x w grid of float32 cell x cell blocks, 3 <= h, w, "
                                          "h * w <= 4096, cell <= 64");
        return NULL;
    }
    static double d[MAX_CELLS][K], z[MAX_CELLS], res[MAX_CELLS], scratch[MAX_CELLS];
    static unsigned char in_band[MAX_CELLS], use[MAX_CELLS];
    static float means[MAX_CELLS];
    const float *cells = (const float *)buf.buf;
    if (cell > 1) {  /* each block's mean as cv2.resize INTER_AREA makes it at an integer scale: the float32 sum of its
                        pixels row by row, times 1 / cell^2 */
        const float *image = cells;
        Py_ssize_t iw = w * cell;
        float scale = 1.0f / (float)(cell * cell);
        for (Py_ssize_t i = 0; i < n; i++) {
            const float *block = image + (i / w) * cell * iw + (i % w) * cell;
            float sum = 0.0f;
            for (Py_ssize_t y = 0; y < cell; y++)
                for (Py_ssize_t x = 0; x < cell; x++) sum += block[y * iw + x];
            means[i] = sum * scale;
        }
        cells = means;
    }
    for (Py_ssize_t y = 0; y < h; y++) {
        double v = (y + 0.5) / h * 2 - 1;
        for (Py_ssize_t x = 0; x < w; x++) {
            Py_ssize_t i = y * w + x;
            double u = (x + 0.5) / w * 2 - 1;
            double c = cells[i] > 1.0f ? cells[i] : 1.0f;
            d[i][0] = 1.0; d[i][1] = u; d[i][2] = v; d[i][3] = u * u; d[i][4] = u * v; d[i][5] = v * v;
            z[i] = (float)log(c);  /* (float32, as cv2.log gives) */
            in_band[i] = y < band || y >= h - band || x < band || x >= w - band;
        }
    }
    PyBuffer_Release(&buf);
    double coef[K] = {0}, next[K];
    fit_rows((const double (*)[K])d, z, in_band, n, ridge, 0, coef);  /* (the band: no minimum) */
    residuals((const double (*)[K])d, z, n, coef, res);
    for (int fit = 1; fit < fits; fit++) {
        if (fit == 1) {  /* the band's points within the noise of the band's fit */
            inliers(res, in_band, n, SIGMAS_MAD, use, scratch);
            for (Py_ssize_t i = 0; i < n; i++) use[i] &= in_band[i];
        } else {  /* then every point within the noise of the last fit */
            unsigned char among[MAX_CELLS];
            memcpy(among, use, (size_t)n);
            inliers(res, among, n, SIGMAS_MAD, use, scratch);
        }
        if (!fit_rows((const double (*)[K])d, z, use, n, ridge, MIN_ROWS, next)) break;
        memcpy(coef, next, sizeof coef);
        residuals((const double (*)[K])d, z, n, coef, res);
    }
    /* on how many sides (top, bottom, left, right; corners aside) two adjacent cells are missed the same way */
    int sides = 0;
    for (int side = 0; side < 4; side++) {
        Py_ssize_t count = side < 2 ? w - 2 : h - 2, missed = 0;
        for (Py_ssize_t p = 0; p + 1 < count && !missed; p++) {
            Py_ssize_t a, b;
            if (side < 2) {
                Py_ssize_t y = side == 0 ? 0 : h - 1;
                a = y * w + 1 + p; b = a + 1;
            } else {
                Py_ssize_t x = side == 2 ? 0 : w - 1;
                a = (1 + p) * w + x; b = a + w;
            }
            missed = (res[a] > far && res[b] > far) || (res[a] < -far && res[b] < -far);
        }
        sides += missed != 0;
    }
    return Py_BuildValue("(dddddd)i", coef[0], coef[1], coef[2], coef[3], coef[4], coef[5], sides);
}

/* x rounded to the nearest integer, halves to even (as lrintf, without a libm call a pixel): |x| < 2^22. */
static ALWAYS_INLINE float nearest(float x) { return (x + 12582912.0f) - 12582912.0f; }

/* exp(x) for float x in [-80, 80], branch-free so loops of it vectorise: 2^(x log2 e) as
 * 2^i * 2^f, i = nearest(x log2 e), by a degree-6 polynomial in f ln 2 (relative
 * error ~1e-7, as cv2.exp's float32). */
static ALWAYS_INLINE float exp_approx(float x) {
    float t = x * 1.44269504088896341f;
    float i = nearest(t);
    float f = (t - i) * 0.69314718055994531f;
    float p = 1.0f + f * (1.0f + f * (0.5f + f * (1.6666667e-1f + f * (4.1666668e-2f + f * (8.3333338e-3f +
              f * 1.3888889e-3f)))));
    int32_t bits = ((int32_t)i + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* the pixel loops also built for AVX2, picked at load time where the CPU has it */
#define PIXEL_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define PIXEL_LOOP
#endif

/* The lighting surface exp(quadratic) over an h x w image, at least 1, into `bg`, and the darkness 1 - work / bg into
 * `dark` (locate.darkness of Lighting.over): the quadratic in float32 at the pixel centres, as Lighting.over. */
PIXEL_LOOP static void surface(const float *restrict work, float *restrict bg, float *restrict dark, Py_ssize_t h,
                               Py_ssize_t w, const double c[K]) {
    float uu[MAX_SIDE], q_u[MAX_SIDE];
    for (Py_ssize_t x = 0; x < w; x++) {
        float u = -1.0f + ((float)x + 0.5f) * (float)(2.0 / w);
        uu[x] = u;
        q_u[x] = (float)c[1] * u + (float)c[3] * (u * u);
    }
    for (Py_ssize_t y = 0; y < h; y++) {
        float v = -1.0f + ((float)y + 0.5f) * (float)(2.0 / h);
        float row0 = (float)c[0] + (float)c[2] * v + (float)c[5] * (v * v), slope = (float)c[4] * v;
        const float *restrict src = work + y * w;
        float *restrict b = bg + y * w, *restrict dk = dark + y * w;
        for (Py_ssize_t x = 0; x < w; x++) {  /* (clamped in a loop of its own: in one with exp, gcc vectorises neither) */
            float a = row0 + q_u[x] + slope * uu[x];
            a = a > -80.0f ? a : -80.0f;
            b[x] = a < 80.0f ? a : 80.0f;
        }
        for (Py_ssize_t x = 0; x < w; x++) {
            float e = exp_approx(b[x]);
            e = e > 1.0f ? e : 1.0f;
            b[x] = e;
            dk[x] = 1.0f - src[x] / e;
        }
    }
}

/* Whether the pixels more than `far` darker than the background (`dark`: their darkness) depart from it more, in sum,
 * than those more than `far` lighter (locate._darker: below >= above, i.e. the sum of both signed is >= 0); then the
 * darkness clamped at 0 in place (a dark object's ink). */
PIXEL_LOOP static int clamp_darker(float *restrict dark, Py_ssize_t n, float far) {
    float sums[8] = {0};  /* (eight partial sums, and the clamp a loop of its own: both vectorise) */
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            float v = dark[i + j], below = v > far ? v : 0.0f, above = v <= -far ? v : 0.0f;
            sums[j] += below + above;
        }
    double sum = 0.0;
    for (; i < n; i++) sum += dark[i] > far || dark[i] <= -far ? dark[i] : 0.0f;
    for (int j = 0; j < 8; j++) sum += sums[j];
    for (i = 0; i < n; i++) dark[i] = dark[i] > 0.0f ? dark[i] : 0.0f;
    return sum >= 0.0;
}

/* The background's noise, relative to it: the MAD of every third pixel of `dark` in the border band (`band3` of
 * those a side), then of every such pixel within 3 sigma (locate.noise_level). */
static double noise_level(const float *dark, Py_ssize_t h, Py_ssize_t w, Py_ssize_t band3) {
    static double all[MAX_NOISE_SAMPLES], in_band[MAX_NOISE_SAMPLES];
    Py_ssize_t h3 = (h + 2) / 3, w3 = (w + 2) / 3, m = 0, mb = 0;
    for (Py_ssize_t i = 0; i < h3; i++)
        for (Py_ssize_t j = 0; j < w3; j++) {
            double v = fabs((double)dark[i * 3 * w + j * 3]);
            all[m++] = v;
            if (i < band3 || i >= h3 - band3 || j < band3 || j >= w3 - band3) in_band[mb++] = v;
        }
    double sigma = 1.4826 * upper_median(in_band, mb), limit = 3.0 * sigma > 0.01 ? 3.0 * sigma : 0.01;
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < m; i++)
        if (all[i] < limit) all[kept++] = all[i];
    return 1.4826 * upper_median(all, kept) + 1e-3;
}

/* background_ink(work, h, w, coef, band3, polarity, background_out, ink_out) -> (noise, dark_object):
 * locate._background_ink without shadow steps. `polarity` 1 dark object, -1 light, 0 whichever departs more. For a
 * dark object `ink_out` receives its ink; for a light one, locate.ink makes it from the background. */
static PyObject *background_ink(PyObject *self, PyObject *args) {
    Py_buffer work_buf, bg_buf, ink_buf;
    Py_ssize_t h, w, band3;
    double c[K];
    int polarity;
    if (!PyArg_ParseTuple(args, "y*nn(dddddd)niw*w*", &work_buf, &h, &w, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5],
                          &band3, &polarity, &bg_buf, &ink_buf))
        return NULL;
    Py_ssize_t n = h * w, bytes = n * (Py_ssize_t)sizeof(float);
    if (h < 1 || w < 1 || w > MAX_SIDE || work_buf.len != bytes || bg_buf.len != bytes || ink_buf.len != bytes ||
        ((h + 2) / 3) * ((w + 2) / 3) > MAX_NOISE_SAMPLES) {
        PyBuffer_Release(&work_buf); PyBuffer_Release(&bg_buf); PyBuffer_Release(&ink_buf);
        PyErr_SetString(PyExc_ValueError, "background_ink: three float32 h x w buffers expected, w <= 4096");
        return NULL;
    }
    float *dark = (float *)ink_buf.buf;
    surface((const float *)work_buf.buf, (float *)bg_buf.buf, dark, h, w, c);
    double noise = noise_level(dark, h, w, band3);
    int dark_object = polarity > 0;
    if (polarity >= 0) {
        int darker = clamp_darker(dark, n, (float)(4.0 * noise > 0.03 ? 4.0 * noise : 0.03));
        dark_object = polarity > 0 || darker;
    }
    PyBuffer_Release(&work_buf); PyBuffer_Release(&bg_buf); PyBuffer_Release(&ink_buf);
    return Py_BuildValue("dO", noise, dark_object ? Py_True : Py_False);
}

/* Narrow [lo, hi] to the x where f x + r lies within [-1.5, limit + 0.5]: where a source coordinate rounds into
 * 0 .. limit - 1, a pixel to spare. */
static void within(double f, double r, Py_ssize_t limit, double *lo, double *hi) {
    double a = -1.5, b = (double)limit + 0.5;
    if (f > 0) {
        *lo = fmax(*lo, (a - r) / f);
        *hi = fmin(*hi, (b - r) / f);
    } else if (f < 0) {
        *lo = fmax(*lo, (b - r) / f);
        *hi = fmin(*hi, (a - r) / f);
    } else if (r < a || r > b) {
        *hi = -1;
    }
}

/* The mirror IoU of a blob, as locate._mirror_iou computes it: the blob (`mask`, its centroid cx, cy) rotated by
 * `degrees` about its centroid onto a side x side canvas by cv2.warpAffine's nearest-neighbour rule (OpenCV 5: the
 * inverse map in float32, each source coordinate m0 * x + (m1 * y + m2) rounded to nearest even; checked against
 * it pixel for pixel), AND-ed with its own left-right flip: intersection over union. `canvas`: side * side bytes. */
static double mirror_iou(const unsigned char *mask, Py_ssize_t h, Py_ssize_t w, double cx, double cy, double degrees,
                         unsigned char *canvas) {
    Py_ssize_t side = (Py_ssize_t)hypot((double)h, (double)w) + 2;
    double angle = degrees * (3.1415926535897932384626433832795 / 180.0), alpha = cos(angle), beta = sin(angle);
    double m[6] = {alpha, beta, (1 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1 - alpha) * cy};
    m[2] += side / 2.0 - cx;  /* (the centroid to the canvas's centre) */
    m[5] += side / 2.0 - cy;
    double det = m[0] * m[4] - m[1] * m[3];  /* the inverse map, as cv2.warpAffine makes it (in doubles) */
    det = det != 0 ? 1.0 / det : 0.0;
    double a11 = m[4] * det, a22 = m[0] * det, a12 = -m[1] * det, a21 = -m[3] * det;
    float f11 = (float)a11, f12 = (float)a12, f21 = (float)a21, f22 = (float)a22;
    float f1 = (float)(-a11 * m[2] - a12 * m[5]), f2 = (float)(-a21 * m[2] - a22 * m[5]);
    float step_x[1024], step_y[1024];  /* f11 x and f21 x for each column, as the rule computes them */
    for (Py_ssize_t x = 0; x < side; x++) {
        step_x[x] = f11 * (float)x;
        step_y[x] = f21 * (float)x;
    }
    long count = 0, both = 0;
    for (Py_ssize_t y = 0; y < side; y++) {
        float row_x = f12 * (float)y + f1, row_y = f22 * (float)y + f2;
        unsigned char *row = canvas + y * side;
        double lo = 0, hi = (double)(side - 1);  /* the columns whose source can lie in the mask (a pixel wider) */
        within(f11, row_x, w, &lo, &hi);
        within(f21, row_y, h, &lo, &hi);
        memset(row, 0, (size_t)side);
        if (!(lo <= hi)) continue;  /* (no column reaches the mask; lo may be huge here) */
        Py_ssize_t x0 = (Py_ssize_t)ceil(lo), x1 = (Py_ssize_t)floor(hi);
        for (Py_ssize_t x = x0; x <= x1; x++) {
            long sx = (long)nearest(step_x[x] + row_x), sy = (long)nearest(step_y[x] + row_y);
            int inside = ((unsigned long)sx < (unsigned long)w) & ((unsigned long)sy < (unsigned long)h);
            row[x] = (unsigned char)(inside & (mask[inside ? sy * w + sx : 0] != 0));  /* (no branch a pixel) */
            count += row[x];
        }
        for (Py_ssize_t x = x0; x <= x1; x++) both += row[x] & row[side - 1 - x];
    }
    return (double)both / (double)(2 * count - both > 1 ? 2 * count - both : 1);
}

/* The parameters of the upright rule (locate.py's constants, passed in). */
typedef struct {
    double max_degrees, symmetry_iou, upright_iou, upright_gain;
} Upright;

/* The angle, among whole degrees up to +-max_degrees, whose rotation (x' = x c + y s, y' = y c - x s) gives the
 * blob the smallest bounding box, if that box is clearly smaller than the unrotated one (`gain`); else 0. The
 * extents over each row's leftmost and rightmost pixel centres: their convex hull is the blob's, as cv2.convexHull
 * of its outline gives it (locate._upright_angle's last step). */
static double box_angle(const unsigned char *mask, Py_ssize_t h, Py_ssize_t w, double max_degrees, double gain) {
    static double px[2048], py[2048];
    Py_ssize_t n = 0;
    for (Py_ssize_t y = 0; y < h && n + 2 <= 2048; y++) {
        const unsigned char *row = mask + y * w;
        Py_ssize_t first = 0, last = w - 1;
        while (first < w && !row[first]) first++;
        if (first == w) continue;
        while (!row[last]) last--;
        px[n] = (double)first, py[n++] = (double)y;
        px[n] = (double)last, py[n++] = (double)y;
    }
    int steps = (int)(2 * max_degrees) + 1, best = 0;
    double areas[181] = {0};
    for (int k = 0; k < steps; k++) {
        double a = (-max_degrees + k) * (3.141592653589793 / 180.0), c = cos(a), s = sin(a);
        double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
        for (Py_ssize_t i = 0; i < n; i++) {
            double xr = c * px[i] + s * py[i], yr = -s * px[i] + c * py[i];
            x_lo = xr < x_lo ? xr : x_lo, x_hi = xr > x_hi ? xr : x_hi;
            y_lo = yr < y_lo ? yr : y_lo, y_hi = yr > y_hi ? yr : y_hi;
        }
        areas[k] = (x_hi - x_lo) * (y_hi - y_lo);
        if (areas[k] < areas[best]) best = k;
    }
    return areas[best] < gain * areas[steps / 2] ? -max_degrees + best : 0.0;
}

/* The angle that stands a blob (`mask` uint8 h x w, 0 or 1) upright (locate._upright_angle): its mirror axis when it
 * is symmetric about one, 0 when it is symmetric enough as it stands, else the angle of its tightest box. The axis
 * is the whole degree up to +-max_degrees whose odd central moments (mu11, mu30, mu12, scaled by the blob's size) are
 * smallest (locate._asymmetry). */
static double upright_angle(const unsigned char *mask, Py_ssize_t h, Py_ssize_t w, const Upright *rule) {
    /* the moments of a binary image, as cv2.moments(mask, True): raw sums, then central */
    double m00 = 0, m10 = 0, m01 = 0, m20 = 0, m11 = 0, m02 = 0, m30 = 0, m21 = 0, m12 = 0, m03 = 0;
    for (Py_ssize_t y = 0; y < h; y++) {
        double x0 = 0, x1 = 0, x2 = 0, x3 = 0;  /* this row's sums of 1, x, x^2, x^3 */
        for (Py_ssize_t x = 0; x < w; x++)
            if (mask[y * w + x]) {
                double xd = (double)x;
                x0 += 1; x1 += xd; x2 += xd * xd; x3 += xd * xd * xd;
            }
        double yd = (double)y, py = yd * yd;
        m00 += x0; m10 += x1; m01 += x0 * yd; m20 += x2; m11 += x1 * yd; m02 += x0 * py;
        m30 += x3; m21 += x2 * yd; m12 += x1 * py; m03 += x0 * py * yd;
    }
    if (m00 < 5) return 0.0;
    double cx = m10 / m00, cy = m01 / m00;
    double mu20 = m20 - cx * m10, mu11 = m11 - cx * m01, mu02 = m02 - cy * m01;
    double mu30 = m30 - cx * (3 * mu20 + cx * m10), mu21 = m21 - cx * (2 * mu11 + cx * m01) - cy * mu20;
    double mu12 = m12 - cy * (2 * mu11 + cy * m10) - cx * mu02, mu03 = m03 - cy * (3 * mu02 + cy * m01);
    double size = mu20 + mu02 > 1e-9 ? mu20 + mu02 : 1e-9, second = 1.0 / size, third = pow(size, -1.5);
    double n20 = mu20 * second, n11 = mu11 * second, n02 = mu02 * second;
    double n30 = mu30 * third, n21 = mu21 * third, n12 = mu12 * third, n03 = mu03 * third;
    int steps = (int)(2 * rule->max_degrees) + 1;
    double axis = 0.0, least = INFINITY;
    for (int k = 0; k < steps; k++) {  /* odd moments of the blob rotated by each angle (x' = x c + y s) */
        double degrees = -rule->max_degrees + k, a = degrees * (3.141592653589793 / 180.0), c = cos(a), s = sin(a);
        double r11 = -c * s * n20 + (c * c - s * s) * n11 + c * s * n02;
        double r30 = c * c * c * n30 + 3 * c * c * s * n21 + 3 * c * s * s * n12 + s * s * s * n03;
        double r12 = c * s * s * n30 + (s * s * s - 2 * c * c * s) * n21 + (c * c * c - 2 * c * s * s) * n12 +
                     s * c * c * n03;
        double score = r11 * r11 + r30 * r30 + r12 * r12;
        if (score < least) {
            least = score;
            axis = degrees;
        }
    }
    static unsigned char canvas[1024 * 1024];
    double iou = mirror_iou(mask, h, w, cx, cy, axis, canvas);
    if (iou >= rule->symmetry_iou) return axis;
    if ((axis == 0.0 ? iou : mirror_iou(mask, h, w, cx, cy, 0.0, canvas)) >= rule->upright_iou) return 0.0;
    double gain = 1.0 - 1.0 / (double)h - 1.0 / (double)w;  /* a pixel a side is no gain */
    return box_angle(mask, h, w, rule->max_degrees, rule->upright_gain < gain ? rule->upright_gain : gain);
}

/* A blob's (uint8 h x w `mask`, over `ink`: its first pixel, rows `stride` apart) ink mean and standard deviation (as
 * cv2.meanStdDev) and the angle that stands it upright: out[0..2]. */
static void measure(const unsigned char *mask, Py_ssize_t h, Py_ssize_t w, const float *ink, Py_ssize_t stride,
                    const Upright *rule, double out[3]) {
    double n = 0, sum = 0, squares = 0;
    for (Py_ssize_t y = 0; y < h; y++)
        for (Py_ssize_t x = 0; x < w; x++)
            if (mask[y * w + x]) {
                double v = ink[y * stride + x];
                n += 1, sum += v, squares += v * v;
            }
    double mean = n ? sum / n : 0.0, variance = n ? squares / n - mean * mean : 0.0;
    out[0] = mean, out[1] = sqrt(variance > 0 ? variance : 0.0), out[2] = upright_angle(mask, h, w, rule);
}

/* blob(mask, h, w, ink, ih, iw, x0, y0, max_degrees, symmetry_iou, upright_iou, upright_gain) -> (mean, sd, angle):
 * a candidate's ink statistics under its mask (uint8 h x w, 0 or 1, at (x0, y0) of the float32 ih x iw ink map; as
 * cv2.meanStdDev) and the angle that stands it upright (locate._upright_angle): `candidates`' measure on its own, for
 * tests/test_edge_kernels.py to hold to locate._measure. */
static PyObject *blob(PyObject *self, PyObject *args) {
    Py_buffer mask_buf, ink_buf;
    Py_ssize_t h, w, ih, iw, x0, y0;
    Upright rule;
    if (!PyArg_ParseTuple(args, "y*nny*nnnndddd", &mask_buf, &h, &w, &ink_buf, &ih, &iw, &x0, &y0, &rule.max_degrees,
                          &rule.symmetry_iou, &rule.upright_iou, &rule.upright_gain))
        return NULL;
    Py_ssize_t side = (Py_ssize_t)hypot((double)h, (double)w) + 2;
    if (h < 1 || w < 1 || mask_buf.len != h * w || side > 1024 || ink_buf.len != ih * iw * (Py_ssize_t)sizeof(float) ||
        x0 < 0 || y0 < 0 || x0 + w > iw || y0 + h > ih || !(rule.max_degrees >= 0 && rule.max_degrees <= 90)) {
        PyBuffer_Release(&mask_buf); PyBuffer_Release(&ink_buf);
        PyErr_SetString(PyExc_ValueError, "blob: a uint8 h x w mask (h, w <= 720) within a float32 ink map expected");
        return NULL;
    }
    double measured[3];
    measure(mask_buf.buf, h, w, (const float *)ink_buf.buf + y0 * iw + x0, iw, &rule, measured);
    PyBuffer_Release(&mask_buf); PyBuffer_Release(&ink_buf);
    return Py_BuildValue("ddd", measured[0], measured[1], measured[2]);
}

/* cv2.resize's INTER_LINEAR table for one axis, dn destination points from sn source points: each point's first
 * source index and the weight of the next (pixel centres aligned; clamped to the edges as OpenCV clamps them). */
static void linear_table(Py_ssize_t dn, Py_ssize_t sn, Py_ssize_t *index, float *weight) {
    double scale = 1.0 / ((double)dn / (double)sn);
    for (Py_ssize_t d = 0; d < dn; d++) {
        float f = (float)((d + 0.5) * scale - 0.5);
        Py_ssize_t s = (Py_ssize_t)floorf(f);
        f -= (float)s;
        if (s < 0) f = 0.0f, s = 0;
        if (s >= sn - 1) f = 0.0f, s = sn - 1;
        index[d] = s;
        weight[d] = f;
    }
}

/* The ink of n crop pixels (uint8 gray) against the background under each (float32, at least 1): locate.ink. */
PIXEL_LOOP static void ink_pixels(const unsigned char *restrict gray, const float *restrict under, Py_ssize_t n,
                                  int dark, float *restrict out) {
    if (dark)
        for (Py_ssize_t i = 0; i < n; i++) {
            float v = 1.0f - (float)gray[i] / under[i];
            out[i] = v > 0.0f ? v : 0.0f;
        }
    else
        for (Py_ssize_t i = 0; i < n; i++) {
            float room = 255.0f - under[i], v = ((float)gray[i] - under[i]) / (room > 1.0f ? room : 1.0f);
            out[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
}

/* A float32 sh x sw image (rows `stride` apart) resized to dh x dw by cv2.resize INTER_LINEAR's rule into `dst` (rows
 * `dstride` apart): each source row resized along x once, then each destination row mixed from two of them. 0 (and
 * nothing written) if the resized rows would not fit the scratch buffer. */
static int linear_resize(const float *src, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t stride, float *dst, Py_ssize_t dh,
                         Py_ssize_t dw, Py_ssize_t dstride) {
    static Py_ssize_t xi[MAX_SIDE], yi[MAX_SIDE];
    static float xa[MAX_SIDE], ya[MAX_SIDE], rows[MAX_CROP_PIXELS];
    if (dh > MAX_SIDE || dw > MAX_SIDE || sh * dw > MAX_CROP_PIXELS) return 0;
    linear_table(dw, sw, xi, xa);
    linear_table(dh, sh, yi, ya);
    for (Py_ssize_t r = 0; r < sh; r++) {
        const float *s = src + r * stride;
        for (Py_ssize_t x = 0; x < dw; x++) {
            Py_ssize_t a = xi[x], b = a + 1 < sw ? a + 1 : a;
            rows[r * dw + x] = s[a] * (1.0f - xa[x]) + s[b] * xa[x];
        }
    }
    for (Py_ssize_t y = 0; y < dh; y++) {
        const float *r0 = rows + yi[y] * dw, *r1 = rows + (yi[y] + 1 < sh ? yi[y] + 1 : yi[y]) * dw;
        for (Py_ssize_t x = 0; x < dw; x++) dst[y * dstride + x] = r0[x] * (1.0f - ya[y]) + r1[x] * ya[y];
    }
    return 1;
}

/* crop_ink(region, ch, cw, background, bh, bw, wx0, wy0, wx1, wy1, dark, out): the ink of a crop (uint8 gray ch x cw)
 * against the working copy's background (float32 bh x bw, at least 1) over [wy0, wy1) x [wx0, wx1), interpolated to
 * the crop as cv2.resize INTER_LINEAR does (Scene.background_over), into `out` (float32 ch x cw): locate.ink. */
static PyObject *crop_ink(PyObject *self, PyObject *args) {
    Py_buffer region_buf, bg_buf, out_buf;
    Py_ssize_t ch, cw, bh, bw, wx0, wy0, wx1, wy1;
    int dark;
    if (!PyArg_ParseTuple(args, "y*nny*nnnnnnpw*", &region_buf, &ch, &cw, &bg_buf, &bh, &bw, &wx0, &wy0, &wx1, &wy1,
                          &dark, &out_buf))
        return NULL;
    Py_ssize_t sw = wx1 - wx0, sh = wy1 - wy0;
    if (ch < 1 || cw < 1 || ch > MAX_SIDE || cw > MAX_SIDE || region_buf.len != ch * cw ||
        out_buf.len != ch * cw * (Py_ssize_t)sizeof(float) || bg_buf.len != bh * bw * (Py_ssize_t)sizeof(float) ||
        wx0 < 0 || wy0 < 0 || sw < 1 || sh < 1 || wx1 > bw || wy1 > bh) {
        PyBuffer_Release(&region_buf); PyBuffer_Release(&bg_buf); PyBuffer_Release(&out_buf);
        PyErr_SetString(PyExc_ValueError, "crop_ink: a uint8 crop, a float32 background holding the box, a float32 out");
        return NULL;
    }
    static float under[MAX_CROP_PIXELS];
    const float *bg = (const float *)bg_buf.buf + wy0 * bw + wx0;
    int fits = ch * cw <= MAX_CROP_PIXELS && linear_resize(bg, sh, sw, bw, under, ch, cw, cw);
    if (fits) ink_pixels((const unsigned char *)region_buf.buf, under, ch * cw, dark, (float *)out_buf.buf);
    PyBuffer_Release(&region_buf); PyBuffer_Release(&bg_buf); PyBuffer_Release(&out_buf);
    if (!fits) {
        PyErr_SetString(PyExc_ValueError, "crop_ink: the crop or its box is larger than 256 x 256");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Index i of a line of n pixels with cv2's default border (BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 ...). */
static Py_ssize_t reflect101(Py_ssize_t i, Py_ssize_t n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

/* A symmetric separable blur of a float32 h x w image (taps k[0] at the centre, k[1..radius] either side; the
 * default border), as cv2.GaussianBlur makes it: rows, then columns. `tmp` and `out` hold h * w floats. (Inlined
 * with a constant radius, so its loops unroll and vectorise.) */
static ALWAYS_INLINE void blur(const float *src, Py_ssize_t h, Py_ssize_t w, const float *k, const int radius, float *tmp,
                               float *out) {
    float padded[MAX_SIDE + 16];
    for (Py_ssize_t y = 0; y < h; y++) {  /* each row padded by its reflection, then one straight loop */
        const float *row = src + y * w;
        memcpy(padded + radius, row, (size_t)w * sizeof(float));
        for (int j = 1; j <= radius; j++) {
            padded[radius - j] = row[reflect101(-j, w)];
            padded[radius + w - 1 + j] = row[reflect101(w - 1 + j, w)];
        }
        const float *p = padded + radius;
        float *t = tmp + y * w;
        for (Py_ssize_t x = 0; x < w; x++) {
            float v = p[x] * k[0];
            for (int j = 1; j <= radius; j++) v += k[j] * (p[x - j] + p[x + j]);
            t[x] = v;
        }
    }
    for (Py_ssize_t y = 0; y < h; y++) {  /* the rows above and below, reflected at the edges */
        const float *up[8], *down[8];
        for (int j = 1; j <= radius; j++) {
            up[j - 1] = tmp + reflect101(y - j, h) * w;
            down[j - 1] = tmp + reflect101(y + j, h) * w;
        }
        const float *mid = tmp + y * w;
        float *o = out + y * w;
        for (Py_ssize_t x = 0; x < w; x++) {
            float v = mid[x] * k[0];
            for (int j = 1; j <= radius; j++) v += k[j] * (up[j - 1][x] + down[j - 1][x]);
            o[x] = v;
        }
    }
}


/* smooth(src, h, w, out): the uint8 h x w image as float32, blurred by the 3x3 Gaussian (1 2 1)/4 each way with the
 * default border: cv2.sepFilter2D(src, CV_32F, k, k) pixel for pixel (every sum is a multiple of 1/16 below 256:
 * exact in float32 in any order). The working copy's last step (locate.downscale). */
static PyObject *smooth(PyObject *self, PyObject *args) {
    Py_buffer src_buf, out_buf;
    Py_ssize_t h, w;
    if (!PyArg_ParseTuple(args, "y*nnw*", &src_buf, &h, &w, &out_buf)) return NULL;
    Py_ssize_t n = h * w;
    if (h < 1 || w < 1 || w > MAX_SIDE || src_buf.len != n || out_buf.len != n * (Py_ssize_t)sizeof(float)) {
        PyBuffer_Release(&src_buf); PyBuffer_Release(&out_buf);
        PyErr_SetString(PyExc_ValueError, "smooth: a uint8 h x w image (w <= 4096) and a float32 h x w out expected");
        return NULL;
    }
    float *values = PyMem_Malloc(2 * n * sizeof(float));
    if (values) {
        const unsigned char *src = (const unsigned char *)src_buf.buf;
        for (Py_ssize_t i = 0; i < n; i++) values[i] = src[i];
        static const float taps[2] = {0.5f, 0.25f};
        blur(values, h, w, taps, 1, values + n, (float *)out_buf.buf);
        PyMem_Free(values);
    }
    PyBuffer_Release(&src_buf); PyBuffer_Release(&out_buf);
    if (!values) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* ink_box(ink, h, w, floor) -> (x, y, w, h): the box of the pixels of `ink` (float32 h x w) above `floor` after a 3x3
 * Gaussian, (0, 0, 0, 0) if none (cv2.boundingRect of cv2.GaussianBlur(ink, (3, 3), 0) > floor). */
static PyObject *ink_box(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t h, w;
    double floor_;
    if (!PyArg_ParseTuple(args, "y*nnd", &buf, &h, &w, &floor_)) return NULL;
    if (h < 1 || w < 1 || h * w > MAX_CROP_PIXELS || buf.len != h * w * (Py_ssize_t)sizeof(float)) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "ink_box: a float32 h x w image of at most 256 x 256 expected");
        return NULL;
    }
    static float tmp[MAX_CROP_PIXELS], blurred[MAX_CROP_PIXELS];
    static const float k3[2] = {0.5f, 0.25f};
    blur((const float *)buf.buf, h, w, k3, 1, tmp, blurred);
    PyBuffer_Release(&buf);
    float limit = (float)floor_;
    Py_ssize_t x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (Py_ssize_t y = 0; y < h; y++) {  /* each row's first and last pixel above the floor */
        const float *row = blurred + y * w;
        Py_ssize_t first = 0, last = w - 1;
        while (first < w && !(row[first] > limit)) first++;
        if (first == w) continue;
        while (!(row[last] > limit)) last--;
        x0 = first < x0 ? first : x0;
        x1 = last > x1 ? last : x1;
        y0 = y < y0 ? y : y0;
        y1 = y;
    }
    if (x1 < 0) return Py_BuildValue("(nnnn)", (Py_ssize_t)0, (Py_ssize_t)0, (Py_ssize_t)0, (Py_ssize_t)0);
    return Py_BuildValue("(nnnn)", x0, y0, x1 - x0 + 1, y1 - y0 + 1);
}

/* cv2.resize's INTER_AREA table for one axis, shrinking sn source points to dn (sn > dn): each destination point's
 * source points and weights, the fractions of their overlap with its cell (OpenCV's computeResizeAreaTab). */
static Py_ssize_t area_table(Py_ssize_t sn, Py_ssize_t dn, Py_ssize_t *di, Py_ssize_t *si, float *alpha) {
    double scale = 1.0 / ((double)dn / (double)sn);
    Py_ssize_t k = 0;
    for (Py_ssize_t d = 0; d < dn; d++) {
        double f1 = d * scale, f2 = f1 + scale, cell = scale < sn - f1 ? scale : sn - f1;
        Py_ssize_t s1 = (Py_ssize_t)ceil(f1), s2 = (Py_ssize_t)floor(f2);
        s2 = s2 < sn - 1 ? s2 : sn - 1;
        s1 = s1 < s2 ? s1 : s2;
        if (s1 - f1 > 1e-3) di[k] = d, si[k] = s1 - 1, alpha[k++] = (float)((s1 - f1) / cell);
        for (Py_ssize_t s = s1; s < s2; s++) di[k] = d, si[k] = s, alpha[k++] = (float)(1.0 / cell);
        if (f2 - s2 > 1e-3) {
            double part = f2 - s2 < 1.0 ? f2 - s2 : 1.0;
            di[k] = d, si[k] = s2, alpha[k++] = (float)((part < cell ? part : cell) / cell);
        }
    }
    return k;
}

/* A float32 sh x sw image (rows `stride` apart) shrunk to dh x dw by area averaging into `dst` (rows `dstride` apart):
 * cv2.resize INTER_AREA's general rule (rows resampled along x, then summed with their weights, in float32). */
static void area_resize(const float *src, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t stride, float *dst, Py_ssize_t dh,
                        Py_ssize_t dw, Py_ssize_t dstride) {
    static Py_ssize_t xd[2 * MAX_SIDE], xs[2 * MAX_SIDE], yd[2 * MAX_SIDE], ys[2 * MAX_SIDE];
    static float xa[2 * MAX_SIDE], ya[2 * MAX_SIDE];
    float buf[MAX_SIDE], sum[MAX_SIDE];
    Py_ssize_t nx = area_table(sw, dw, xd, xs, xa), ny = area_table(sh, dh, yd, ys, ya), previous = yd[0];
    for (Py_ssize_t x = 0; x < dw; x++) sum[x] = 0.0f;
    for (Py_ssize_t j = 0; j < ny; j++) {
        const float *row = src + ys[j] * stride;
        for (Py_ssize_t x = 0; x < dw; x++) buf[x] = 0.0f;
        for (Py_ssize_t k = 0; k < nx; k++) buf[xd[k]] += row[xs[k]] * xa[k];
        if (yd[j] != previous) {  /* a destination row is complete */
            for (Py_ssize_t x = 0; x < dw; x++) dst[previous * dstride + x] = sum[x], sum[x] = ya[j] * buf[x];
            previous = yd[j];
        } else {
            for (Py_ssize_t x = 0; x < dw; x++) sum[x] += ya[j] * buf[x];
        }
    }
    for (Py_ssize_t x = 0; x < dw; x++) dst[previous * dstride + x] = sum[x];
}

/* The model input from a size x size square of ink (float32): stretched so its third brightest pixel is white (at
 * least `floor`), with an unsharp mask of `amount` (Gaussian sigma 1, 9 taps), rounded and saturated to uint8. */
static void finish(const float *square, Py_ssize_t size, double floor_, double amount, unsigned char *out) {
    Py_ssize_t n = size * size;
    float top[3] = {-INFINITY, -INFINITY, -INFINITY};  /* the three largest, largest first */
    for (Py_ssize_t i = 0; i < n; i++) {
        float v = square[i];
        if (v > top[2]) {
            if (v > top[0]) { top[2] = top[1]; top[1] = top[0]; top[0] = v; }
            else if (v > top[1]) { top[2] = top[1]; top[1] = v; }
            else top[2] = v;
        }
    }
    double peak = n >= 3 ? top[2] : top[n - 1];  /* (numpy: the value that partition puts third from the end) */
    if (peak < floor_) peak = floor_;
    if (peak < 1e-3) peak = 1e-3;
    double scale = 255.0 / peak;
    float k9[5], sum = 0.0f, taps[9];  /* cv2.getGaussianKernel(9, 1.0, CV_32F), centre first */
    for (int i = 0; i < 9; i++) {
        double x = i - 4.0;
        taps[i] = (float)exp(-0.5 * x * x);
        sum += taps[i];
    }
    for (int i = 0; i < 5; i++) k9[i] = (float)(taps[4 + i] * (1.0 / sum));
    static float tmp[4096], blurred[4096];
    blur(square, size, size, k9, 4, tmp, blurred);
    float alpha = (float)((1.0 + amount) * scale), beta = (float)(-amount * scale);
    for (Py_ssize_t i = 0; i < n; i++) {
        float v = nearest(square[i] * alpha + blurred[i] * beta);
        out[i] = v <= 0.0f ? 0 : (v >= 255.0f ? 255 : (unsigned char)v);
    }
}

/* model_input(ink, ih, iw, x, y, w, h, size, floor, amount, out): the model input from a crop's ink (float32 ih x iw):
 * its box (x, y, w, h; all zeros: the whole crop) resized so the longest side is `size` (area averaging when
 * shrinking, linear when enlarging) and centred on a black size x size square (preprocess.fit_to_square), then
 * stretched and sharpened into uint8 `out` (preprocess._model_input's reference: a partition, then sharpen). */
static PyObject *model_input(PyObject *self, PyObject *args) {
    Py_buffer buf, out_buf;
    Py_ssize_t ih, iw, x, y, w, h, size;
    double floor_, amount;
    if (!PyArg_ParseTuple(args, "y*nnnnnnnddw*", &buf, &ih, &iw, &x, &y, &w, &h, &size, &floor_, &amount, &out_buf))
        return NULL;
    if (!w || !h) x = 0, y = 0, w = iw, h = ih;
    if (ih < 1 || iw < 1 || ih > MAX_SIDE || iw > MAX_SIDE || buf.len != ih * iw * (Py_ssize_t)sizeof(float) ||
        x < 0 || y < 0 || w < 1 || h < 1 || x + w > iw || y + h > ih || size < 1 || size > 64 ||
        out_buf.len != size * size) {
        PyBuffer_Release(&buf); PyBuffer_Release(&out_buf);
        PyErr_SetString(PyExc_ValueError, "model_input: a float32 crop holding the box, a uint8 size x size out (<= 64)");
        return NULL;
    }
    double scale = (double)size / (double)(h > w ? h : w);
    Py_ssize_t new_w = (Py_ssize_t)rint(w * scale), new_h = (Py_ssize_t)rint(h * scale);  /* (Python's round) */
    new_w = new_w > 1 ? new_w : 1, new_h = new_h > 1 ? new_h : 1;
    Py_ssize_t top = (size - new_h) / 2, left = (size - new_w) / 2;
    float square[4096] = {0};
    const float *box = (const float *)buf.buf + y * iw + x;
    if (scale < 1) area_resize(box, h, w, iw, square + top * size + left, new_h, new_w, size);
    else linear_resize(box, h, w, iw, square + top * size + left, new_h, new_w, size);  /* (h, w <= size: fits) */
    finish(square, size, floor_, amount, (unsigned char *)out_buf.buf);
    PyBuffer_Release(&buf); PyBuffer_Release(&out_buf);
    Py_RETURN_NONE;
}


/* The weighted dot product sum(w[i] a[i] b[i]) in float32 with eight partial sums (vectorises), summed in double. */
PIXEL_LOOP static double dot3(const float *restrict w, const float *restrict a, const float *restrict b, Py_ssize_t n) {
    float sums[8] = {0};
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) sums[j] += w[i + j] * a[i + j] * b[i + j];
    double total = 0.0;
    for (; i < n; i++) total += w[i] * a[i] * b[i];
    for (int j = 0; j < 8; j++) total += sums[j];
    return total;
}

/* solve_robust(a, n, k, z, band, fits, ridge) -> coef tuple: least squares of z (float32 n) on the columns of `a`
 * (float32 n x k), from the points where band[i] (uint8), refitted on the band's points within the noise (3 MAD
 * sigmas) of the last fit, then on every such point; `fits` fits in all, a fit on fewer than MIN_ROWS points keeps
 * the last (zeros at first): locate._solve_robust without a band fit, the shadow steps' fit. */
static PyObject *solve_robust(PyObject *self, PyObject *args) {
    Py_buffer a_buf, z_buf, band_buf;
    Py_ssize_t n, k;
    int fits;
    double ridge;
    if (!PyArg_ParseTuple(args, "y*nny*y*id", &a_buf, &n, &k, &z_buf, &band_buf, &fits, &ridge)) return NULL;
    if (n < 1 || n > MAX_ROWS || k < 1 || k > MAX_COLUMNS || a_buf.len != n * k * (Py_ssize_t)sizeof(float) ||
        z_buf.len != n * (Py_ssize_t)sizeof(float) || band_buf.len != n) {
        PyBuffer_Release(&a_buf); PyBuffer_Release(&z_buf); PyBuffer_Release(&band_buf);
        PyErr_SetString(PyExc_ValueError, "solve_robust: float32 n x k (k <= 16, n <= 16384), float32 n, uint8 n");
        return NULL;
    }
    static float columns[MAX_COLUMNS + 1][MAX_ROWS], weight[MAX_ROWS];
    static double residual[MAX_ROWS], scratch[MAX_ROWS];
    static unsigned char among[MAX_ROWS], use[MAX_ROWS];
    const float *a = (const float *)a_buf.buf, *z = (const float *)z_buf.buf;
    const unsigned char *band = (const unsigned char *)band_buf.buf;
    for (Py_ssize_t i = 0; i < n; i++) {  /* column-major, z last: each normal-equation entry one dot product */
        for (Py_ssize_t c = 0; c < k; c++) columns[c][i] = a[i * k + c];
        columns[k][i] = z[i];
        weight[i] = band[i] ? 1.0f : 0.0f;
    }
    double coef[MAX_COLUMNS] = {0}, next[MAX_COLUMNS];
    for (int fit = 0; fit < fits; fit++) {
        Py_ssize_t rows = 0;
        for (Py_ssize_t i = 0; i < n; i++) rows += weight[i] != 0.0f;
        if (rows < MIN_ROWS) break;  /* everything is "object": keep the last good fit */
        double g[MAX_COLUMNS][MAX_COLUMNS], r[MAX_COLUMNS];
        for (Py_ssize_t p = 0; p < k; p++) {
            for (Py_ssize_t q = 0; q <= p; q++) g[p][q] = g[q][p] = dot3(weight, columns[p], columns[q], n);
            r[p] = dot3(weight, columns[p], columns[k], n);
        }
        if (!solve_spd(g, r, (int)k, ridge, next)) break;
        memcpy(coef, next, sizeof coef);
        if (fit == fits - 1) break;
        for (Py_ssize_t i = 0; i < n; i++) {
            double fitted = 0.0;
            for (Py_ssize_t c = 0; c < k; c++) fitted += coef[c] * (double)columns[c][i];
            residual[i] = (double)z[i] - fitted;
            among[i] = weight[i] != 0.0f;
        }
        inliers(residual, among, n, SIGMAS_MAD, use, scratch);
        for (Py_ssize_t i = 0; i < n; i++)  /* the points within the noise of this fit; the band's only, at first */
            weight[i] = use[i] && (fit > 0 || band[i]) ? 1.0f : 0.0f;
    }
    PyBuffer_Release(&a_buf); PyBuffer_Release(&z_buf); PyBuffer_Release(&band_buf);
    PyObject *out = PyTuple_New(k);
    if (!out) return NULL;
    for (Py_ssize_t c = 0; c < k; c++) PyTuple_SET_ITEM(out, c, PyFloat_FromDouble(coef[c]));
    return out;
}

/* The root of label i in the union-find forest `parent`, halving the path on the way. */
static int32_t root_of(int32_t *parent, int32_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
}

/* Join the sets of labels a and b; the smaller root stays the root (as OpenCV's solvers: labels keep scan order). */
static int32_t join(int32_t *parent, int32_t a, int32_t b) {
    a = root_of(parent, a), b = root_of(parent, b);
    if (a < b) return parent[b] = a;
    return parent[a] = b;
}

typedef struct {
    int32_t first, x0, y0, x1, y1, area;  /* first: the component's first 2x2 block, in block scan order */
} Component;

static int by_first_block(const void *a, const void *b) {
    return ((const Component *)a)->first - ((const Component *)b)->first;
}

/* 3x3 dilation (grow = 1) or erosion (grow = 0) of a 0/1 h x w image into dst, pixels outside it left out (as cv2's
 * default morphology border): along rows into tmp, then along columns. */
static void morph3(const unsigned char *src, unsigned char *tmp, unsigned char *dst, Py_ssize_t h, Py_ssize_t w,
                   int grow) {
    for (Py_ssize_t y = 0; y < h; y++) {
        const unsigned char *s = src + y * w;
        unsigned char *t = tmp + y * w;
        if (w == 1) {
            t[0] = s[0];
            continue;
        }
        t[0] = grow ? s[0] | s[1] : s[0] & s[1];
        t[w - 1] = grow ? s[w - 2] | s[w - 1] : s[w - 2] & s[w - 1];
        if (grow)
            for (Py_ssize_t x = 1; x < w - 1; x++) t[x] = s[x - 1] | s[x] | s[x + 1];
        else
            for (Py_ssize_t x = 1; x < w - 1; x++) t[x] = s[x - 1] & s[x] & s[x + 1];
    }
    for (Py_ssize_t y = 0; y < h; y++) {
        const unsigned char *up = tmp + (y > 0 ? y - 1 : y) * w, *mid = tmp + y * w;
        const unsigned char *down = tmp + (y + 1 < h ? y + 1 : y) * w;
        unsigned char *d = dst + y * w;
        if (grow)
            for (Py_ssize_t x = 0; x < w; x++) d[x] = up[x] | mid[x] | down[x];
        else
            for (Py_ssize_t x = 0; x < w; x++) d[x] = up[x] & mid[x] & down[x];
    }
}

/* out[x] = row[x] > level, 0 or 1, for n pixels. */
PIXEL_LOOP static void above_row(const float *restrict row, float level, Py_ssize_t n, unsigned char *restrict out) {
    for (Py_ssize_t x = 0; x < n; x++) out[x] = row[x] > level;
}

/* The ink's blobs, labelled: the window of the float32 h x w ink map that locate.find_candidates labels (the ink's
 * bounding box 2 pixels wider, from even coordinates: ox, oy, ww, wh), its pixels above `level` closed by a 3x3
 * square and labelled 8-connected into `labels` (int32, the window's pixels row by row; h * w of room), numbered as
 * cv2.connectedComponentsWithStatsWithAlgorithm's CCL_GRANA numbers them: by each blob's first 2x2 block. Returns the
 * number of blobs (0: no ink above the level) with *stats (PyMem_Malloc'd, the caller frees) their boxes (corners
 * inclusive) and areas, label 1 first; -1 with an exception set if memory ran out. */
typedef struct {
    Py_ssize_t ox, oy, ww, wh;
} Window;

static int32_t label_ink(const float *ink, Py_ssize_t h, Py_ssize_t w, float level, int32_t *labels, Window *win,
                         Component **stats) {
    Py_ssize_t bx0 = w, by0 = h, bx1 = -1, by1 = -1;  /* the ink's bounding box (as cv2.boundingRect) */
    for (Py_ssize_t y = 0; y < h; y++) {
        const float *row = ink + y * w;
        int any = 0;
        for (Py_ssize_t x = 0; x < w; x++) any |= row[x] > level;
        if (!any) continue;
        Py_ssize_t first = 0, last = w - 1;
        while (!(row[first] > level)) first++;
        while (!(row[last] > level)) last--;
        bx0 = first < bx0 ? first : bx0, bx1 = last > bx1 ? last : bx1;
        by0 = y < by0 ? y : by0, by1 = y;
    }
    *stats = NULL;
    if (bx1 < 0) return 0;
    Py_ssize_t ox = (bx0 - 2 > 0 ? bx0 - 2 : 0) & ~(Py_ssize_t)1, oy = (by0 - 2 > 0 ? by0 - 2 : 0) & ~(Py_ssize_t)1;
    Py_ssize_t ww = (bx1 + 3 < w ? bx1 + 3 : w) - ox, wh = (by1 + 3 < h ? by1 + 3 : h) - oy, n = ww * wh;
    *win = (Window){ox, oy, ww, wh};
    unsigned char *above = PyMem_Malloc(3 * n);
    int32_t *parent = PyMem_Malloc((n + 1) * sizeof(int32_t)), count = -1;
    Component *found = NULL, *order = NULL;
    if (!above || !parent) goto done;
    unsigned char *closed = above + n, *tmp = above + 2 * n;
    for (Py_ssize_t y = 0; y < wh; y++) above_row(ink + (oy + y) * w + ox, level, ww, above + y * ww);
    morph3(above, tmp, closed, wh, ww, 1);  /* (dilated into `closed`, eroded back into `above`) */
    morph3(closed, tmp, above, wh, ww, 0);
    int32_t next = 1;  /* provisional labels, in scan order; a pixel takes a neighbour's (Wu's decision tree: the
                          north neighbour touches the other three, so they are joined already) */
    parent[0] = 0;
    for (Py_ssize_t y = 0; y < wh; y++)
        for (Py_ssize_t x = 0; x < ww; x++) {
            int32_t *at = labels + y * ww + x;
            if (!above[y * ww + x]) {
                *at = 0;
                continue;
            }
            const int32_t west = x > 0 ? at[-1] : 0, nw = y > 0 && x > 0 ? at[-ww - 1] : 0, north = y > 0 ? at[-ww] : 0;
            const int32_t ne = y > 0 && x + 1 < ww ? at[-ww + 1] : 0;
            if (north) *at = north;
            else if (ne) *at = nw ? join(parent, ne, nw) : west ? join(parent, ne, west) : ne;
            else if (nw) *at = nw;
            else if (west) *at = west;
            else {
                parent[next] = next;
                *at = next++;
            }
        }
    for (int32_t i = 1; i < next; i++) parent[i] = parent[parent[i]];  /* (parent[i] <= i: one pass flattens) */
    int32_t roots = 0, half_w = (int32_t)((ww + 1) / 2);
    found = PyMem_Malloc(next * sizeof(Component));
    if (!found) goto done;
    for (int32_t i = 1; i < next; i++)
        if (parent[i] == i) found[i] = (Component){INT32_MAX, INT32_MAX, INT32_MAX, -1, -1, 0}, roots++;
    for (Py_ssize_t y = 0; y < wh; y++)  /* each run of a label along a row counted at once */
        for (Py_ssize_t x = 0; x < ww;) {
            int32_t *at = labels + y * ww, label = at[x];
            if (!label) {
                x++;
                continue;
            }
            Py_ssize_t start = x;
            for (; x < ww && at[x] == label; x++) at[x] = parent[label];
            Component *c = found + parent[label];
            int32_t block = (int32_t)(y / 2) * half_w + (int32_t)(start / 2);
            c->first = block < c->first ? block : c->first;
            c->x0 = start < c->x0 ? start : c->x0, c->x1 = x - 1 > c->x1 ? x - 1 : c->x1;
            c->y0 = y < c->y0 ? y : c->y0, c->y1 = y;
            c->area += x - start;
        }
    order = PyMem_Malloc(roots * sizeof(Component));
    if (!order) goto done;
    int32_t k = 0;
    for (int32_t i = 1; i < next; i++)
        if (parent[i] == i) order[k] = found[i], order[k++].area = i;  /* (area's place holds the root for the sort) */
    qsort(order, roots, sizeof(Component), by_first_block);
    for (k = 0; k < roots; k++) {
        int32_t root = order[k].area;
        order[k] = found[root];
        parent[root] = -(k + 1);  /* (the forest is flat: each root's place now holds its final label, negated) */
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (labels[i]) labels[i] = -parent[labels[i]];
    *stats = order, order = NULL, count = roots;
done:
    if (count < 0) PyErr_NoMemory();
    PyMem_Free(above); PyMem_Free(parent); PyMem_Free(found); PyMem_Free(order);
    return count;
}

/* blobs(ink, h, w, threshold, labels_out) -> None where no ink exceeds `threshold`, else (x, y, width, height, stats):
 * the labelled window (label_ink; labels_out int32 h x w) and stats [(x, y, w, h, area)] of labels 1, 2, ...: the
 * labelling of `candidates`, for tests/test_edge_kernels.py to hold to OpenCV's (locate._blobs). */
static PyObject *blobs(PyObject *self, PyObject *args) {
    Py_buffer ink_buf, labels_buf;
    Py_ssize_t h, w;
    double threshold;
    if (!PyArg_ParseTuple(args, "y*nndw*", &ink_buf, &h, &w, &threshold, &labels_buf)) return NULL;
    if (h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE || ink_buf.len != h * w * (Py_ssize_t)sizeof(float) ||
        labels_buf.len != h * w * (Py_ssize_t)sizeof(int32_t)) {
        PyBuffer_Release(&ink_buf); PyBuffer_Release(&labels_buf);
        PyErr_SetString(PyExc_ValueError, "blobs: a float32 h x w ink map and an int32 h x w labels buffer expected");
        return NULL;
    }
    Window win;
    Component *stats;
    int32_t count = label_ink(ink_buf.buf, h, w, (float)threshold, labels_buf.buf, &win, &stats);
    PyBuffer_Release(&ink_buf); PyBuffer_Release(&labels_buf);
    if (count <= 0) {
        if (count < 0) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *rows = PyList_New(count), *result = NULL;
    for (int32_t k = 0; rows && k < count; k++) {
        const Component *c = stats + k;
        PyObject *row = Py_BuildValue("(iiiii)", c->x0, c->y0, c->x1 - c->x0 + 1, c->y1 - c->y0 + 1, c->area);
        if (!row) Py_CLEAR(rows);
        else PyList_SET_ITEM(rows, k, row);
    }
    PyMem_Free(stats);
    if (rows) result = Py_BuildValue("nnnnN", win.ox, win.oy, win.ww, win.wh, rows);
    return result;
}

typedef struct {
    int32_t area, label, x0, y0, x1, y1;  /* a blob in the window: its box's corners, x1 and y1 past it */
} Blob;

/* Whether `a` comes before `b` in Python's sorted(..., reverse=True) of (area, label, ...) tuples (labels differ). */
static int larger(const Blob *a, const Blob *b) { return a->area != b->area ? a->area > b->area : a->label > b->label; }

/* Whether a pixel of a member (is_member[label]) lies within g pixels (Chebyshev) of a pixel of `blob` in the
 * ww x wh `labels` (locate._near_members: its dilation by a (2g+1)-square, within the blob's box g wider). */
static int near_members(const int32_t *labels, Py_ssize_t ww, Py_ssize_t wh, const Blob *blob,
                        const unsigned char *is_member, Py_ssize_t g) {
    Py_ssize_t x0 = blob->x0 - g > 0 ? blob->x0 - g : 0, y0 = blob->y0 - g > 0 ? blob->y0 - g : 0;
    Py_ssize_t x1 = blob->x1 + g < ww ? blob->x1 + g : ww, y1 = blob->y1 + g < wh ? blob->y1 + g : wh;
    for (Py_ssize_t y = y0; y < y1; y++)
        for (Py_ssize_t x = x0; x < x1; x++) {
            if (!is_member[labels[y * ww + x]]) continue;
            for (Py_ssize_t yy = y - g > y0 ? y - g : y0; yy <= y + g && yy < y1; yy++)
                for (Py_ssize_t xx = x - g > x0 ? x - g : x0; xx <= x + g && xx < x1; xx++)
                    if (labels[yy * ww + xx] == blob->label) return 1;
        }
    return 0;
}

/* candidates(ink, h, w, threshold, max_candidates, gap, max_degrees, symmetry_iou, upright_iou, upright_gain)
 *   -> [(x, y, w, h, mean, sd, area, angle)]: locate.find_candidates in one call, its reference's steps and order —
 * the blobs above the threshold (label_ink), each seed (the largest free blob of at least 2% of the largest's area
 * and 4 pixels; a second at least a tenth of the first's) grown by every free blob within `gap` of a member's pixels
 * until none is left, each object's ink mean and deviation and upright angle (measure) — the largest box first. */
static PyObject *candidates(PyObject *self, PyObject *args) {
    Py_buffer ink_buf;
    Py_ssize_t h, w, most;
    double threshold, gap;
    Upright rule;
    if (!PyArg_ParseTuple(args, "y*nndnddddd", &ink_buf, &h, &w, &threshold, &most, &gap, &rule.max_degrees,
                          &rule.symmetry_iou, &rule.upright_iou, &rule.upright_gain))
        return NULL;
    if (h < 1 || w < 1 || h > 512 || w > 512 || ink_buf.len != h * w * (Py_ssize_t)sizeof(float) || most < 1 ||
        most > 16 || !(gap >= 0 && gap < 64) || !(rule.max_degrees >= 0 && rule.max_degrees <= 90)) {
        PyBuffer_Release(&ink_buf);
        PyErr_SetString(PyExc_ValueError, "candidates: a float32 h x w ink map (h, w <= 512) expected");
        return NULL;
    }
    const float *ink = (const float *)ink_buf.buf;
    int32_t *labels = PyMem_Malloc(h * w * sizeof(int32_t));
    Component *stats = NULL;
    Blob *free_ = NULL, *members = NULL, *near = NULL;
    unsigned char *is_member = NULL, *mask = NULL;
    PyObject *result = NULL;
    Window win;
    int32_t count = labels ? label_ink(ink, h, w, (float)threshold, labels, &win, &stats) : (PyErr_NoMemory(), -1);
    if (count <= 0) {
        if (count == 0) result = PyList_New(0);
        goto done;
    }
    struct {
        Py_ssize_t x, y, w, h, area;
        double measured[3];  /* mean, sd, angle */
    } found[16], t;
    Py_ssize_t made = 0, nfree = 0;
    free_ = PyMem_Malloc(3 * count * sizeof(Blob));  /* (the free blobs, an object's members, the near ones) */
    is_member = PyMem_Calloc(count + 1, 1);
    mask = PyMem_Malloc(win.ww * win.wh);
    if (!free_ || !is_member || !mask) {
        PyErr_NoMemory();
        goto done;
    }
    members = free_ + count, near = free_ + 2 * count;
    int32_t largest = 0;
    for (int32_t k = 0; k < count; k++) largest = stats[k].area > largest ? stats[k].area : largest;
    double least = 0.02 * largest > 4 ? 0.02 * largest : 4;  /* specks never seed nor join an object */
    for (int32_t k = 0; k < count; k++) {
        const Component *c = stats + k;
        if (c->area < least) continue;
        Blob blob = {c->area, k + 1, c->x0, c->y0, c->x1 + 1, c->y1 + 1};
        Py_ssize_t at = nfree++;  /* (insertion sort: largest first, as the reference's sorted tuples) */
        for (; at > 0 && larger(&blob, free_ + at - 1); at--) free_[at] = free_[at - 1];
        free_[at] = blob;
    }
    int32_t first_area = nfree ? free_[0].area : 0;
    Py_ssize_t g = (Py_ssize_t)ceil(gap);
    while (nfree && made < most) {
        if (made && free_[0].area < 0.1 * first_area) break;  /* specks and bits: not a second object */
        Py_ssize_t nmembers = 1;
        members[0] = free_[0];
        memmove(free_, free_ + 1, --nfree * sizeof(Blob));
        int32_t box[4] = {members[0].x0, members[0].y0, members[0].x1, members[0].y1};
        for (int grown = 1; grown;) {  /* every free blob within `gap` of a member's pixels, until none is left */
            for (Py_ssize_t m = 0; m < nmembers; m++) is_member[members[m].label] = 1;
            Py_ssize_t nnear = 0, kept = 0;
            for (Py_ssize_t f = 0; f < nfree; f++) {
                const Blob *b = free_ + f;
                if (b->x0 - gap <= box[2] && b->x1 + gap >= box[0] && b->y0 - gap <= box[3] && b->y1 + gap >= box[1] &&
                    near_members(labels, win.ww, win.wh, b, is_member, g))
                    near[nnear++] = *b;
                else
                    free_[kept++] = *b;
            }
            for (Py_ssize_t m = 0; m < nmembers; m++) is_member[members[m].label] = 0;
            nfree = kept;
            for (Py_ssize_t q = 0; q < nnear; q++) {
                const Blob *b = near + q;
                box[0] = b->x0 < box[0] ? b->x0 : box[0], box[1] = b->y0 < box[1] ? b->y0 : box[1];
                box[2] = b->x1 > box[2] ? b->x1 : box[2], box[3] = b->y1 > box[3] ? b->y1 : box[3];
                members[nmembers++] = *b;
            }
            grown = nnear > 0;
        }
        int32_t area = 0;
        for (Py_ssize_t m = 0; m < nmembers; m++) area += members[m].area, is_member[members[m].label] = 1;
        Py_ssize_t bw = box[2] - box[0], bh = box[3] - box[1];
        for (Py_ssize_t y = 0; y < bh; y++)
            for (Py_ssize_t x = 0; x < bw; x++) mask[y * bw + x] = is_member[labels[(box[1] + y) * win.ww + box[0] + x]];
        for (Py_ssize_t m = 0; m < nmembers; m++) is_member[members[m].label] = 0;
        Py_ssize_t x0 = win.ox + box[0], y0 = win.oy + box[1];
        found[made].x = x0, found[made].y = y0, found[made].w = bw, found[made].h = bh, found[made].area = area;
        measure(mask, bh, bw, ink + y0 * w + x0, w, &rule, found[made++].measured);
    }
    /* the largest box first (a stable sort, as the reference's sorted(..., reverse=True)) */
    for (Py_ssize_t i = 1; i < made; i++)
        for (Py_ssize_t j = i; j > 0 && found[j].w * found[j].h > found[j - 1].w * found[j - 1].h; j--)
            t = found[j], found[j] = found[j - 1], found[j - 1] = t;
    result = PyList_New(made);
    for (Py_ssize_t i = 0; result && i < made; i++) {
        const double *m = found[i].measured;
        PyObject *row = Py_BuildValue("(nnnn)ddnd", found[i].x, found[i].y, found[i].w, found[i].h, m[0], m[1],
                                      found[i].area, m[2]);
        if (!row) Py_CLEAR(result);
        else PyList_SET_ITEM(result, i, row);
    }
done:
    PyMem_Free(labels); PyMem_Free(stats); PyMem_Free(free_); PyMem_Free(is_member); PyMem_Free(mask);
    PyBuffer_Release(&ink_buf);
    return result;
}

/* OpenCV 5's BGR -> gray for uint8 (cv2.cvtColor COLOR_BGR2GRAY, checked on all 2^24 colours): 15-bit weights. */
#define GRAY_B 3735
#define GRAY_G 19235
#define GRAY_R 9798
#define GRAY_ROUND 16384

static ALWAYS_INLINE int gray_of(const unsigned char *p) {
    return (p[0] * GRAY_B + p[1] * GRAY_G + p[2] * GRAY_R + GRAY_ROUND) >> 15;
}

/* Output pixels [x, wo) of one row of gray_half, from BGR rows r0 and r1: each pixel's gray rounded as cvtColor's,
 * then the 2x2 mean rounded as cv2.resize's at exactly half, (a + b + c + d + 2) >> 2. */
static void gray_half_tail(const unsigned char *r0, const unsigned char *r1, Py_ssize_t x, Py_ssize_t wo,
                           unsigned char *out) {
    for (; x < wo; x++) {
        const unsigned char *a = r0 + 6 * x, *b = r1 + 6 * x;
        out[x] = (unsigned char)((gray_of(a) + gray_of(a + 3) + gray_of(b) + gray_of(b + 3) + 2) >> 2);
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define GRAY_HALF_AVX2 1

/* 32 BGR pixels from p -> their 32 grays, in order (each 128-bit lane does 16): the 48 bytes of a lane are cut into
 * four windows of four pixels, each pixel spread to 16-bit words (b, g, r, 1) and multiplied by (B, G, R, round) in
 * pairs (vpmaddwd), the pairs added (vphaddd), shifted, packed. */
__attribute__((target("avx2"))) static inline __m256i gray32(const unsigned char *p) {
    const __m256i v0 = _mm256_loadu2_m128i((const __m128i *)(p + 48), (const __m128i *)p);
    const __m256i v1 = _mm256_loadu2_m128i((const __m128i *)(p + 64), (const __m128i *)(p + 16));
    const __m256i v2 = _mm256_loadu2_m128i((const __m128i *)(p + 80), (const __m128i *)(p + 32));
    const __m256i lo = _mm256_setr_epi8(0, -1, 1, -1, 2, -1, -1, -1, 3, -1, 4, -1, 5, -1, -1, -1,
                                        0, -1, 1, -1, 2, -1, -1, -1, 3, -1, 4, -1, 5, -1, -1, -1);
    const __m256i hi = _mm256_setr_epi8(6, -1, 7, -1, 8, -1, -1, -1, 9, -1, 10, -1, 11, -1, -1, -1,
                                        6, -1, 7, -1, 8, -1, -1, -1, 9, -1, 10, -1, 11, -1, -1, -1);
    const __m256i one = _mm256_setr_epi16(0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1);
    const __m256i weights = _mm256_setr_epi16(GRAY_B, GRAY_G, GRAY_R, GRAY_ROUND, GRAY_B, GRAY_G, GRAY_R, GRAY_ROUND,
                                              GRAY_B, GRAY_G, GRAY_R, GRAY_ROUND, GRAY_B, GRAY_G, GRAY_R, GRAY_ROUND);
    const __m256i windows[4] = {v0, _mm256_alignr_epi8(v1, v0, 12), _mm256_alignr_epi8(v2, v1, 8),
                                _mm256_srli_si256(v2, 4)};  /* pixels 0-3, 4-7, 8-11, 12-15 of each lane */
    __m256i sums[4];
    for (int i = 0; i < 4; i++) {
        __m256i a = _mm256_madd_epi16(_mm256_or_si256(_mm256_shuffle_epi8(windows[i], lo), one), weights);
        __m256i b = _mm256_madd_epi16(_mm256_or_si256(_mm256_shuffle_epi8(windows[i], hi), one), weights);
        sums[i] = _mm256_srli_epi32(_mm256_hadd_epi32(a, b), 15);
    }
    return _mm256_packus_epi16(_mm256_packus_epi32(sums[0], sums[1]), _mm256_packus_epi32(sums[2], sums[3]));
}

/* One output row of gray_half, 16 pixels at a time (the rest by gray_half_tail): each source row converted whole
 * first (one stream through memory at a time: interleaving the two was slower from memory). */
__attribute__((target("avx2"))) static void gray_half_row_avx2(const unsigned char *r0, const unsigned char *r1,
                                                               Py_ssize_t wo, unsigned char *out) {
    static unsigned char g0[MAX_WIDTH], g1[MAX_WIDTH];
    const __m256i ones = _mm256_set1_epi8(1), two = _mm256_set1_epi16(2);
    Py_ssize_t n = wo / 16 * 32;
    for (Py_ssize_t x = 0; x < n; x += 32) _mm256_storeu_si256((__m256i *)(g0 + x), gray32(r0 + 3 * x));
    for (Py_ssize_t x = 0; x < n; x += 32) _mm256_storeu_si256((__m256i *)(g1 + x), gray32(r1 + 3 * x));
    Py_ssize_t x = 0;
    for (; x + 16 <= wo; x += 16) {
        __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(g0 + 2 * x)), ones),
                                         _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(g1 + 2 * x)), ones));
        __m256i half = _mm256_srli_epi16(_mm256_add_epi16(pairs, two), 2);
        half = _mm256_permute4x64_epi64(_mm256_packus_epi16(half, half), 0x08);  /* each lane's 8 bytes, in order */
        _mm_storeu_si128((__m128i *)(out + x), _mm256_castsi256_si128(half));
    }
    gray_half_tail(r0, r1, x, wo, out);
}
#endif

/* gray_half(bgr, h, w, out): the BGR uint8 h x w frame (contiguous) as gray, halved: out (h // 2, w // 2) uint8 is
 * cv2.resize(cv2.cvtColor(bgr, COLOR_BGR2GRAY)[:2 * (h // 2), :2 * (w // 2)], half, INTER_LINEAR), the same
 * pixels, without the full-resolution gray (its conversion cost more than the rest of a frame's working copy). */
static PyObject *gray_half(PyObject *self, PyObject *args) {
    Py_buffer bgr_buf, out_buf;
    Py_ssize_t h, w;
    if (!PyArg_ParseTuple(args, "y*nnw*", &bgr_buf, &h, &w, &out_buf)) return NULL;
    Py_ssize_t ho = h / 2, wo = w / 2;
    if (h < 2 || w < 2 || bgr_buf.len != h * w * 3 || out_buf.len != ho * wo) {
        PyBuffer_Release(&bgr_buf); PyBuffer_Release(&out_buf);
        PyErr_SetString(PyExc_ValueError, "gray_half: a BGR uint8 h x w frame (h, w >= 2), an (h/2, w/2) uint8 out");
        return NULL;
    }
    const unsigned char *bgr = (const unsigned char *)bgr_buf.buf;
    unsigned char *out = (unsigned char *)out_buf.buf;
#ifdef GRAY_HALF_AVX2
    int avx2 = w <= MAX_WIDTH && __builtin_cpu_supports("avx2");
#endif
    for (Py_ssize_t y = 0; y < ho; y++) {
        const unsigned char *r0 = bgr + 2 * y * w * 3, *r1 = r0 + w * 3;
#ifdef GRAY_HALF_AVX2
        if (avx2) {
            gray_half_row_avx2(r0, r1, wo, out + y * wo);
            continue;
        }
#endif
        gray_half_tail(r0, r1, 0, wo, out + y * wo);
    }
    PyBuffer_Release(&bgr_buf); PyBuffer_Release(&out_buf);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"fit_smooth", fit_smooth, METH_VARARGS, "The smooth lighting fit on cell means: (coef, sides missed)."},
    {"background_ink", background_ink, METH_VARARGS, "Background, ink, noise and polarity of the working copy."},
    {"crop_ink", crop_ink, METH_VARARGS, "The ink of a crop against the working copy's background under it."},
    {"ink_box", ink_box, METH_VARARGS, "The box of a crop's ink above a floor, after a 3x3 Gaussian."},
    {"model_input", model_input, METH_VARARGS, "The model input from a crop's ink: fitted, stretched, sharpened."},
    {"solve_robust", solve_robust, METH_VARARGS, "The robust least-squares fit of the shadow steps."},
    {"smooth", smooth, METH_VARARGS, "A gray image as float32, blurred by the 3x3 (1 2 1)/4 Gaussian."},
    {"blobs", blobs, METH_VARARGS, "The ink's blobs above a threshold, closed and labelled, with their statistics."},
    {"candidates", candidates, METH_VARARGS, "The candidate objects: blobs grown by their neighbours, measured."},
    {"gray_half", gray_half, METH_VARARGS, "A BGR frame as gray, halved: cvtColor then a 2x2 mean, as OpenCV rounds."},
    {"blob", blob, METH_VARARGS, "A candidate's ink mean and deviation under its mask, and its upright angle."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
