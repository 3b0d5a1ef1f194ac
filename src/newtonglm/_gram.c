/* newtonglm._gram: the compiled kernel of newtonglm.engine (optional: without it the engine
   uses NumPy and BLAS).

   wgram(A, w, u, G, intercept) adds to the upper triangle of G

       [1 | A | .]ᵀ W [1 | A | .]    (the leading column of ones only when intercept is true)

   and, when u is given, the score column Σ_i u_i [1 | a_i] into G's last column, for a
   column-major or row-major float64 block A. glm_pass(A, coef, ...) is the fused GLM pass: eta,
   the per-row part and the same Gram, chunk by chunk, in one read of A. glm_rows is the per-row
   part alone; nonfinite_rows flags rows holding NaN or inf.

   The Python fallback writes √W·A into a buffer and calls BLAS syrk; this kernel never writes
   √W·A. Narrow blocks: 4 x 4 tiles of the result in vector registers (_gram_tiles.h), 2-3x
   faster than OpenBLAS's syrk at d up to a few dozen. Wide blocks: chunks packed row-major and
   a BLAS-style register micro-kernel (_gram_packed.h), ~2x faster than syrk at d = 200. The
   per-row GLM arithmetic (own vector exp and log) is _gram_rows.h, the vector type
   _gram_simd.h. Both wgram and glm_pass take an optional last argument: 0 forces the tiles,
   1 the packed kernel (for the tests).

   The vector type is GCC/Clang's generic vector extension; on x86-64 each hot function is
   compiled three times (AVX-512, AVX2, baseline) and the loader picks the best the CPU has. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#include "_gram_simd.h"
#include "_gram_tiles.h"
#include "_gram_rows.h"

/* ---- The fused GLM pass: eta, the mean, the working weights, the deviance and the Gram ----

   glm_pass computes, chunk by chunk, eta = b0 + offset + A beta, then per row the mean, the
   working weight W = w V(mu) mu'^2 / V^2 ... (= w V for the canonical links here), the score
   weight U = w (y - mu), the deviance and Pearson's chi^2, and adds the chunk's Gram and score
   while the chunk is still in cache: one read of X per Newton iteration and no n-length
   temporaries. glm_rows is the per-row part alone (_gram_rows.h), for blocks that glm_pass
   cannot read (other strides; a sparse design). Only the canonical pairs are there; every
   other family/link keeps newtonglm.engine.accumulate's NumPy path. */

static void add_compensated(double *s, double *c, double x)
{
    double t = *s + x;
    *c += fabs(*s) >= fabs(x) ? (*s - t) + x : (x - t) + *s;
    *s = t;
}

/* The lanes' totals as one compensated pair each, and the boundary count. */
static PyObject *sums_result(const sums_t *a)
{
    double ds = 0.0, dc = 0.0, ps = 0.0, pc = 0.0;
    long long nb = 0;
    for (int l = 0; l < 8; l++) {
        /* a lane that overflowed (or met a NaN) has a NaN compensation: the sum alone counts */
        add_compensated(&ds, &dc, a->dev[l]);
        add_compensated(&ds, &dc, isfinite(a->dev[l]) ? a->dev_c[l] : 0.0);
        add_compensated(&ps, &pc, a->pear[l]);
        add_compensated(&ps, &pc, isfinite(a->pear[l]) ? a->pear_c[l] : 0.0);
        nb += a->boundary[l];
    }
    if (!isfinite(ds))
        dc = 0.0;
    if (!isfinite(ps))
        pc = 0.0;
    return Py_BuildValue("ddddL", ds, dc, ps, pc, nb);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void glm_rows_block(int fam, const double *eta, const double *y, const double *w,
                           Py_ssize_t m, double *W, double *U, sums_t *s)
{
    glm_rows(fam, eta, y, w, m, W, U, s);
}

/* The fused pass over one block. A is column-major (ld = distance between columns) or
   row-major (ld = distance between rows; each chunk is transposed into T first). scratch
   holds 3 CHUNK doubles (eta, W, U of a chunk), then tiles_scratch(p) for T and the tiles'
   accumulators. G (Gram, upper triangle, leading dimension ldg) and S (score) may each be
   NULL; wout, if given, receives W of every row. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void glm_pass(const double *A, Py_ssize_t ld, int col_major, Py_ssize_t m, Py_ssize_t p,
                     const double *beta, double b0, const double *off, const double *y,
                     const double *w, int fam, double *G, Py_ssize_t ldg, double *S, int o,
                     double *wout, sums_t *sums, double *scratch, int start)
{
    double *eta = scratch, *W = scratch + CHUNK, *U = scratch + 2 * CHUNK, *T = U + CHUNK;
    v8d *Gv = tiles_setup(T, p, col_major);
    Py_ssize_t step = tile_rows(p, col_major), ldc;
    for (Py_ssize_t s = 0; s < m; s += step) {
        Py_ssize_t r = m - s < step ? m - s : step;
        const double *C = chunk_columns(A, ld, col_major, s, r, p, T, &ldc);
        if (start) { /* R's start: W and U from y alone, no eta */
            start_rows(fam, y + s, w ? w + s : NULL, off ? off + s : NULL, r, W, U);
            chunk(C, ldc, r, p, W, S ? U : NULL, G, ldg, S, o, Gv);
            continue;
        }
        for (Py_ssize_t i = 0; i < r; i++)
            eta[i] = off ? b0 + off[s + i] : b0;
        for (Py_ssize_t j = 0; j < p; j++) {
            double bj = beta[j];
            const double *c = C + j * ldc;
            for (Py_ssize_t i = 0; i < r; i++)
                eta[i] += bj * c[i];
        }
        glm_rows(fam, eta, y + s, w ? w + s : NULL, r, W, U, sums);
        if (wout)
            memcpy(wout + s, W, (size_t)r * sizeof(double));
        chunk(C, ldc, r, p, W, S ? U : NULL, G, ldg, S, o, Gv);
    }
    if (Gv)
        chunk_reduce(Gv, p, G, ldg, S, o);
}

#include "_gram_packed.h"

/* ---- Rows holding NaN or +-inf, in one read of the block ----

   x * 0 is 0 for every finite x and NaN for NaN and +-inf, so a sum of x * 0 is NaN exactly
   when one of its terms is non-finite (no overflow possible, unlike a plain row sum).
   Column-major: per row, summed column after column over a chunk of rows. Row-major: per
   column over a chunk of rows (independent sums, vectorised), and only a chunk found to hold
   a non-finite value is scanned row by row. acc holds max(p, CHUNK) doubles. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static Py_ssize_t nonfinite(const double *A, Py_ssize_t ld, int col_major, Py_ssize_t m,
                            Py_ssize_t p, unsigned char *out, double *acc)
{
    Py_ssize_t count = 0;
    for (Py_ssize_t s = 0; s < m; s += CHUNK) {
        Py_ssize_t r = m - s < CHUNK ? m - s : CHUNK;
        if (col_major) {
            for (Py_ssize_t i = 0; i < r; i++)
                acc[i] = 0.0;
            for (Py_ssize_t j = 0; j < p; j++) {
                const double *c = A + j * ld + s;
                for (Py_ssize_t i = 0; i < r; i++)
                    acc[i] += c[i] * 0.0;
            }
            for (Py_ssize_t i = 0; i < r; i++) {
                out[s + i] = acc[i] != acc[i];
                count += out[s + i];
            }
            continue;
        }
        for (Py_ssize_t j = 0; j < p; j++)
            acc[j] = 0.0;
        for (Py_ssize_t i = 0; i < r; i++) {
            const double *row = A + (s + i) * ld;
            for (Py_ssize_t j = 0; j < p; j++)
                acc[j] += row[j] * 0.0;
        }
        int clean = 1;
        for (Py_ssize_t j = 0; j < p; j++)
            clean &= acc[j] == acc[j];
        for (Py_ssize_t i = 0; i < r; i++) {
            out[s + i] = 0;
            if (clean)
                continue;
            const double *row = A + (s + i) * ld;
            for (Py_ssize_t j = 0; j < p; j++)
                if (row[j] * 0.0 != 0.0) {
                    out[s + i] = 1;
                    count++;
                    break;
                }
        }
    }
    return count;
}

static int is_float64(const Py_buffer *b)
{
    /* "d", or with a byte-order prefix that means this machine's order (arrays rebuilt from
       bytes, e.g. by Dask's distributed scheduler, say "<d"). */
    const char *f = b->format;
    if (b->itemsize != 8 || f == NULL)
        return 0;
#if PY_BIG_ENDIAN
    if (*f == '@' || *f == '=' || *f == '>' || *f == '!')
        f++;
#else
    if (*f == '@' || *f == '=' || *f == '<')
        f++;
#endif
    return strcmp(f, "d") == 0;
}

static void release(Py_buffer *b)
{
    if (b->obj)
        PyBuffer_Release(b);
}

/* The 2-D float64 block A: its shape, whether it is column-major (unit row stride, columns at
   least m apart) or row-major (the other way round), and its leading dimension (the distance
   between columns, or between rows, in doubles). Sets ValueError for any other block. */
static int get_block(PyObject *obj, Py_buffer *a, Py_ssize_t *m, Py_ssize_t *p, Py_ssize_t *ld,
                     int *col_major)
{
    if (PyObject_GetBuffer(obj, a, PyBUF_STRIDES | PyBUF_FORMAT) < 0)
        return -1;
    if (a->ndim != 2 || !is_float64(a)) {
        PyErr_SetString(PyExc_ValueError, "A must be a 2-D float64 block");
        return -1;
    }
    Py_ssize_t rows = a->shape[0], cols = a->shape[1];
    /* An exporter may leave strides NULL for a C-contiguous buffer (ctypes does). */
    Py_ssize_t s0 = a->strides ? a->strides[0] : 8 * cols, s1 = a->strides ? a->strides[1] : 8;
    int col = cols == 0 || ((rows <= 1 || s0 == 8) &&
                            (cols == 1 || (s1 % 8 == 0 && s1 >= 8 * rows)));
    int row = (cols <= 1 || s1 == 8) && (rows <= 1 || (s0 % 8 == 0 && s0 >= 8 * cols));
    if (!col && !row) {
        PyErr_SetString(PyExc_ValueError,
                        "A must be a column-major or row-major float64 block (unit stride "
                        "along its columns or its rows)");
        return -1;
    }
    *m = rows;
    *p = cols;
    *col_major = col;
    *ld = col ? (cols > 1 ? s1 / 8 : rows) : (rows > 1 ? s0 / 8 : cols);
    return 0;
}

static PyObject *py_wgram(PyObject *self, PyObject *args)
{
    PyObject *a_obj, *w_obj, *u_obj, *g_obj;
    int intercept, kernel = -1;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOp|i", &a_obj, &w_obj, &u_obj, &g_obj, &intercept, &kernel))
        return NULL;
    Py_buffer a = {0}, w = {0}, u = {0}, g = {0};
    int have_u = u_obj != Py_None, col_major;
    Py_ssize_t m, p, ld;
    PyObject *result = NULL;
    if (get_block(a_obj, &a, &m, &p, &ld, &col_major) < 0)
        goto done;
    if (PyObject_GetBuffer(w_obj, &w, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    if (have_u && PyObject_GetBuffer(u_obj, &u, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    if (PyObject_GetBuffer(g_obj, &g, PyBUF_F_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        goto done;
    Py_ssize_t q = p + (intercept ? 1 : 0) + (have_u ? 1 : 0);
    if (w.ndim != 1 || !is_float64(&w) || w.shape[0] != m ||
        (have_u && (u.ndim != 1 || !is_float64(&u) || u.shape[0] != m))) {
        PyErr_SetString(PyExc_ValueError, "w and u must be float64 vectors of A's length");
        goto done;
    }
    if (g.ndim != 2 || !is_float64(&g) || g.shape[0] != q || g.shape[1] != q) {
        PyErr_SetString(PyExc_ValueError, "G must be a Fortran-ordered float64 (q, q) array");
        goto done;
    }
    {
        const double *ap = a.buf, *wp = w.buf, *up = have_u ? u.buf : NULL;
        double *gp = g.buf;
        if (use_packed(kernel, col_major, p)) {
            double *scratch = PyMem_RawMalloc(packed_scratch(p, intercept) * sizeof(double));
            if (scratch == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            sums_t unused;
            Py_BEGIN_ALLOW_THREADS
            packed_pass(ap, ld, col_major, m, p, intercept, PACK_GIVEN, NULL, NULL, NULL, NULL,
                        0, wp, up, gp, q, up ? gp + (q - 1) * q : NULL, NULL, &unused,
                        scratch);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(scratch);
        } else {
            double *scratch = PyMem_RawMalloc(tiles_scratch(p, col_major) * sizeof(double));
            if (scratch == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            Py_BEGIN_ALLOW_THREADS
            wgram(ap, ld, col_major, m, p, wp, up, gp, q, up ? gp + (q - 1) * q : NULL,
                  intercept, scratch);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(scratch);
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    release(&a);
    release(&w);
    release(&u);
    release(&g);
    return result;
}

/* A float64 vector of length m (C-contiguous), or None when allowed. */
static int get_vector(PyObject *obj, Py_buffer *b, Py_ssize_t m, int writable, int optional,
                      const char *name)
{
    if (obj == Py_None) {
        if (optional)
            return 0;
        PyErr_Format(PyExc_ValueError, "%s must not be None", name);
        return -1;
    }
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, b, flags) < 0)
        return -1;
    if (b->ndim != 1 || !is_float64(b) || b->shape[0] != m) {
        PyErr_Format(PyExc_ValueError, "%s must be a contiguous float64 vector of length %zd",
                     name, m);
        return -1;
    }
    return 0;
}

static int check_family(int fam)
{
    if (fam < 0 || fam >= N_FAMILIES) {
        PyErr_Format(PyExc_ValueError, "unknown family code %d", fam);
        return -1;
    }
    return 0;
}

static PyObject *py_glm_rows(PyObject *self, PyObject *args)
{
    PyObject *eta_obj, *y_obj, *w_obj, *W_obj, *U_obj;
    int fam;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOiOO", &eta_obj, &y_obj, &w_obj, &fam, &W_obj, &U_obj))
        return NULL;
    if (check_family(fam) < 0)
        return NULL;
    Py_buffer eta = {0}, y = {0}, w = {0}, W = {0}, U = {0};
    PyObject *result = NULL;
    if (PyObject_GetBuffer(eta_obj, &eta, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (eta.ndim != 1 || !is_float64(&eta)) {
        PyErr_SetString(PyExc_ValueError, "eta must be a contiguous float64 vector");
        goto done;
    }
    Py_ssize_t m = eta.shape[0];
    if (get_vector(y_obj, &y, m, 0, 0, "y") < 0 || get_vector(w_obj, &w, m, 0, 1, "w") < 0 ||
        get_vector(W_obj, &W, m, 1, 0, "W") < 0 || get_vector(U_obj, &U, m, 1, 0, "U") < 0)
        goto done;
    sums_t s;
    memset(&s, 0, sizeof s);
    Py_BEGIN_ALLOW_THREADS
    glm_rows_block(fam, eta.buf, y.buf, w.obj ? w.buf : NULL, m, W.buf, U.buf, &s);
    Py_END_ALLOW_THREADS
    result = sums_result(&s);
done:
    release(&eta);
    release(&y);
    release(&w);
    release(&W);
    release(&U);
    return result;
}

static PyObject *py_glm_pass(PyObject *self, PyObject *args)
{
    PyObject *a_obj, *coef_obj, *off_obj, *y_obj, *w_obj, *g_obj, *s_obj, *wout_obj;
    int intercept, fam, kernel = -1;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOpOOOiOOO|i", &a_obj, &coef_obj, &intercept, &off_obj, &y_obj,
                          &w_obj, &fam, &g_obj, &s_obj, &wout_obj, &kernel))
        return NULL;
    if (check_family(fam) < 0)
        return NULL;
    Py_buffer a = {0}, coef = {0}, off = {0}, y = {0}, w = {0}, g = {0}, sv = {0}, wout = {0};
    PyObject *result = NULL;
    double *scratch = NULL;
    Py_ssize_t m, p, ld;
    int col_major;
    if (get_block(a_obj, &a, &m, &p, &ld, &col_major) < 0)
        goto done;
    Py_ssize_t d = p + (intercept ? 1 : 0);
    int start = coef_obj == Py_None; /* R's start: W and U at mustart, no coefficients */
    if (get_vector(coef_obj, &coef, d, 0, 1, "coef") < 0 ||
        get_vector(off_obj, &off, m, 0, 1, "offset") < 0 ||
        get_vector(y_obj, &y, m, 0, 0, "y") < 0 || get_vector(w_obj, &w, m, 0, 1, "w") < 0 ||
        get_vector(s_obj, &sv, d, 1, 1, "S") < 0 ||
        get_vector(wout_obj, &wout, m, 1, 1, "wout") < 0)
        goto done;
    Py_ssize_t ldg = 0;
    if (g_obj != Py_None) {
        if (PyObject_GetBuffer(g_obj, &g, PyBUF_F_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
            goto done;
        if (g.ndim != 2 || !is_float64(&g) || g.shape[0] != g.shape[1] || g.shape[0] < d) {
            PyErr_SetString(PyExc_ValueError,
                            "G must be a Fortran-ordered float64 (q, q) array, q >= len(coef)");
            goto done;
        }
        ldg = g.shape[0];
    }
    if (use_packed(kernel, col_major, p)) {
        scratch = PyMem_RawMalloc(packed_scratch(p, intercept) * sizeof(double));
        if (scratch == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        sums_t s;
        memset(&s, 0, sizeof s);
        Py_BEGIN_ALLOW_THREADS
        packed_pass(a.buf, ld, col_major, m, p, intercept, start ? PACK_START : PACK_FUSED,
                    start ? NULL : coef.buf, off.obj ? off.buf : NULL, y.buf,
                    w.obj ? w.buf : NULL, fam, NULL, NULL, g.obj ? g.buf : NULL, ldg,
                    sv.obj ? sv.buf : NULL, wout.obj ? wout.buf : NULL, &s, scratch);
        Py_END_ALLOW_THREADS
        result = sums_result(&s);
    } else {
        scratch = PyMem_RawMalloc((3 * (size_t)CHUNK + tiles_scratch(p, col_major)) *
                                  sizeof(double));
        if (scratch == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        static const double no_coef[1] = {0.0};
        const double *cp = start ? no_coef : coef.buf;
        sums_t s;
        memset(&s, 0, sizeof s);
        Py_BEGIN_ALLOW_THREADS
        glm_pass(a.buf, ld, col_major, m, p, start ? cp : cp + (intercept ? 1 : 0),
                 (intercept && !start) ? cp[0] : 0.0,
                 off.obj ? off.buf : NULL, y.buf, w.obj ? w.buf : NULL, fam,
                 g.obj ? g.buf : NULL, ldg, sv.obj ? sv.buf : NULL, intercept,
                 wout.obj ? wout.buf : NULL, &s, scratch, start);
        Py_END_ALLOW_THREADS
        result = sums_result(&s);
    }
done:
    PyMem_RawFree(scratch);
    release(&a);
    release(&coef);
    release(&off);
    release(&y);
    release(&w);
    release(&g);
    release(&sv);
    release(&wout);
    return result;
}

static PyObject *py_nonfinite_rows(PyObject *self, PyObject *args)
{
    PyObject *a_obj, *out_obj;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &a_obj, &out_obj))
        return NULL;
    Py_buffer a = {0}, out = {0};
    PyObject *result = NULL;
    Py_ssize_t m, p, ld, count;
    int col_major;
    if (get_block(a_obj, &a, &m, &p, &ld, &col_major) < 0)
        goto done;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT) < 0)
        goto done;
    if (out.ndim != 1 || out.itemsize != 1 || out.shape[0] != m) {
        PyErr_Format(PyExc_ValueError, "out must be a contiguous bool vector of length %zd", m);
        goto done;
    }
    {
        double *acc = PyMem_RawMalloc((size_t)(p > CHUNK ? p : CHUNK) * sizeof(double));
        if (acc == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        count = nonfinite(a.buf, ld, col_major, m, p, out.buf, acc);
        Py_END_ALLOW_THREADS
        PyMem_RawFree(acc);
        result = PyLong_FromSsize_t(count);
    }
done:
    release(&a);
    release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"wgram", py_wgram, METH_VARARGS,
     "wgram(A, w, u, G, intercept[, kernel]): add the upper triangle of [1|A]ᵀ diag(w) [1|A] and, if u "
     "is not None, Σ u [1|A] as G's last column, to the Fortran-ordered G. A is a column-major "
     "or row-major float64 block; the GIL is released during the computation. kernel: -1 "
     "chooses by width, 0 the narrow tiles, 1 the packed kernel."},
    {"glm_rows", py_glm_rows, METH_VARARGS,
     "glm_rows(eta, y, w, family, W, U) -> (deviance, deviance_c, pearson, pearson_c, "
     "boundary): the per-row part of "
     "a pass for a canonical family code (0 binomial-logit, 1 Poisson-log, 2 Gaussian-identity): "
     "writes the working weights W and score weights U; w may be None (unit weights). Each sum "
     "comes as a compensated pair (sum, compensation)."},
    {"glm_pass", py_glm_pass, METH_VARARGS,
     "glm_pass(A, coef, intercept, offset, y, w, family, G, S, wout[, kernel]) -> (deviance, deviance_c, "
     "pearson, pearson_c, boundary): one fused pass over the block A at coef: adds the "
     "Gram's upper triangle to G and the score to S (either may be None); wout, if given, "
     "receives W. With coef None: R's start, the Gram of W and the score column Xᵀ W z at "
     "mustart (the sums returned are then 0). kernel as for wgram."},
    {"nonfinite_rows", py_nonfinite_rows, METH_VARARGS,
     "nonfinite_rows(A, out) -> count: out[i] = whether row i of the float64 block A (column- or "
     "row-major) holds NaN or +-inf; the GIL is released."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gram", "Compiled weighted Gram kernel of newtonglm.engine.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__gram(void)
{
    PyObject *mod = PyModule_Create(&module);
    if (mod && PyModule_AddIntConstant(mod, "PACKED_MAX_COLS", PACKED_MAX_COLS) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
