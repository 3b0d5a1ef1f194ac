/* Weighted Gram matrix of a column-major block, in one read of the block.

   newtonglm._gram.wgram(A, w, u, G, intercept) adds to the upper triangle of G

       [1 | A | .]ᵀ W [1 | A | .]    (the leading column of ones only when intercept is true)

   and, when u is given, the score column Σ_i u_i [1 | a_i] into G's last column. The Python
   fallback writes √W·A into a buffer and calls BLAS syrk; this kernel never writes √W·A: it
   reads each 2048-row chunk of A (hot in L2 after the first of its column tiles) and
   accumulates 4 x 4 tiles of the result in vector registers, multiplying by w on the fly. For
   a narrow Gram (d up to a few dozen) that is 2-3x faster than OpenBLAS's syrk, whose packing
   and edge handling dominate at that width; at d = 200 the two are level. A row-major block
   (C-ordered X) is transposed chunk by chunk into a small scratch array first.

   The vector type is GCC/Clang's generic vector extension; on x86-64 the function is compiled
   three times (AVX-512, AVX2, baseline) and the loader picks the best the CPU has. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef double v8d __attribute__((vector_size(64), aligned(8)));

#define CHUNK 2048

#define INLINE static inline __attribute__((always_inline))

INLINE v8d load8(const double *p)
{
    v8d v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE double hsum(v8d v)
{
    double t = 0.0;
    for (int l = 0; l < 8; l++)
        t += v[l];
    return t;
}

/* G[j+a, k+b] += Σ_i w_i A[i, j+a] A[i, k+b] for a < NJ, b < NK over the chunk's r rows. */
#define TILE(NJ, NK)                                                                         \
    do {                                                                                     \
        v8d c[NJ][NK];                                                                       \
        memset(c, 0, sizeof c);                                                              \
        for (Py_ssize_t i = 0; i < r8; i += 8) {                                             \
            v8d wv = load8(w + i), x[NJ], y[NK];                                             \
            for (int a = 0; a < NJ; a++)                                                     \
                x[a] = wv * load8(A + (j + a) * lda + i);                                    \
            for (int b = 0; b < NK; b++)                                                     \
                y[b] = load8(A + (k + b) * lda + i);                                         \
            for (int a = 0; a < NJ; a++)                                                     \
                for (int b = 0; b < NK; b++)                                                 \
                    c[a][b] += x[a] * y[b];                                                  \
        }                                                                                    \
        for (int a = 0; a < NJ; a++)                                                         \
            for (int b = 0; b < NK; b++) {                                                   \
                double t = hsum(c[a][b]);                                                    \
                for (Py_ssize_t i = r8; i < r; i++)                                          \
                    t += w[i] * A[(j + a) * lda + i] * A[(k + b) * lda + i];                 \
                G[(o + k + b) * ldg + o + j + a] += t;                                       \
            }                                                                                \
    } while (0)

/* One chunk of r rows: A, w and u point at its first row. */
INLINE void chunk(const double *A, Py_ssize_t lda, Py_ssize_t r, Py_ssize_t p,
                  const double *w, const double *u, double *G, Py_ssize_t ldg, int o)
{
    Py_ssize_t r8 = r & ~(Py_ssize_t)7;
    for (Py_ssize_t j = 0; j < p; j += 4) {
        int nj = p - j < 4 ? (int)(p - j) : 4;
        for (Py_ssize_t k = j; k < p; k += 4) {
            int nk = p - k < 4 ? (int)(p - k) : 4;
            /* Only the last tile row and column can be narrower than 4; nj <= nk there. */
            switch (nj * 8 + nk) {
            case 4 * 8 + 4: TILE(4, 4); break;
            case 4 * 8 + 3: TILE(4, 3); break;
            case 4 * 8 + 2: TILE(4, 2); break;
            case 4 * 8 + 1: TILE(4, 1); break;
            case 3 * 8 + 3: TILE(3, 3); break;
            case 2 * 8 + 2: TILE(2, 2); break;
            default: TILE(1, 1); break;
            }
        }
    }
    /* The intercept's row (Σ w, Σ w a_j) and the score column (Σ u, Σ u a_j). */
    Py_ssize_t e = o + p; /* index of the score column */
    for (Py_ssize_t j = -1; j < p; j++) {
        if (j < 0 && !o)
            continue;
        v8d sw = {0}, su = {0};
        double tw = 0.0, tu = 0.0;
        if (j < 0) {
            for (Py_ssize_t i = 0; i < r8; i += 8) {
                sw += load8(w + i);
                if (u)
                    su += load8(u + i);
            }
            for (Py_ssize_t i = r8; i < r; i++) {
                tw += w[i];
                if (u)
                    tu += u[i];
            }
        } else {
            const double *a = A + j * lda;
            for (Py_ssize_t i = 0; i < r8; i += 8) {
                v8d av = load8(a + i);
                sw += av * load8(w + i);
                if (u)
                    su += av * load8(u + i);
            }
            for (Py_ssize_t i = r8; i < r; i++) {
                tw += a[i] * w[i];
                if (u)
                    tu += a[i] * u[i];
            }
        }
        Py_ssize_t col = o + j; /* the intercept is column 0 when o == 1 and j == -1 */
        if (o)
            G[col * ldg] += hsum(sw) + tw;
        if (u)
            G[e * ldg + col] += hsum(su) + tu;
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void wgram(const double *A, Py_ssize_t lda, Py_ssize_t m, Py_ssize_t p, const double *w,
                  const double *u, double *G, Py_ssize_t ldg, int intercept)
{
    for (Py_ssize_t s = 0; s < m; s += CHUNK) {
        Py_ssize_t r = m - s < CHUNK ? m - s : CHUNK;
        chunk(A + s, lda, r, p, w + s, u ? u + s : NULL, G, ldg, intercept);
    }
}

/* Row-major blocks (a C-ordered X): each chunk of rows is first transposed into the
   column-major scratch T (p x ct, at most TRANSPOSED_BYTES, and at most CHUNK rows), then
   summed as above. 2 MiB rather than 256 KiB: at 200,000 x 100 the wider scratch's longer
   chunks (fewer tile reductions) made the Gram 74 instead of 78 ms; at 20 columns both are
   CHUNK rows. */
#define TRANSPOSED_BYTES (2048 * 1024)

static Py_ssize_t transposed_rows(Py_ssize_t p)
{
    Py_ssize_t ct = TRANSPOSED_BYTES / 8 / (p > 0 ? p : 1);
    ct = ct < CHUNK ? ct : CHUNK;
    ct &= ~(Py_ssize_t)7;
    return ct > 8 ? ct : 8;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void wgram_rows(const double *A, Py_ssize_t ld, Py_ssize_t m, Py_ssize_t p,
                       const double *w, const double *u, double *G, Py_ssize_t ldg,
                       int intercept, double *T)
{
    Py_ssize_t ct = transposed_rows(p);
    /* Columns of T 8 doubles further apart than its rows: a power-of-two stride would map
       them all to the same cache sets (measured 4x slower at 10,000 x 10). */
    Py_ssize_t ldt = ct + 8;
    for (Py_ssize_t s = 0; s < m; s += ct) {
        Py_ssize_t r = m - s < ct ? m - s : ct;
        for (Py_ssize_t i = 0; i < r; i++) {
            const double *row = A + (s + i) * ld;
            for (Py_ssize_t j = 0; j < p; j++)
                T[j * ldt + i] = row[j];
        }
        chunk(T, ldt, r, p, w + s, u ? u + s : NULL, G, ldg, intercept);
    }
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

static PyObject *py_wgram(PyObject *self, PyObject *args)
{
    PyObject *a_obj, *w_obj, *u_obj, *g_obj;
    int intercept;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOp", &a_obj, &w_obj, &u_obj, &g_obj, &intercept))
        return NULL;
    Py_buffer a = {0}, w = {0}, u = {0}, g = {0};
    int have_u = u_obj != Py_None;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(a_obj, &a, PyBUF_STRIDES | PyBUF_FORMAT) < 0)
        return NULL;
    if (PyObject_GetBuffer(w_obj, &w, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    if (have_u && PyObject_GetBuffer(u_obj, &u, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    if (PyObject_GetBuffer(g_obj, &g, PyBUF_F_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        goto done;
    if (a.ndim != 2 || !is_float64(&a)) {
        PyErr_SetString(PyExc_ValueError, "A must be a 2-D float64 block");
        goto done;
    }
    /* An exporter may leave strides NULL for a C-contiguous buffer (ctypes does). */
    Py_ssize_t m = a.shape[0], p = a.shape[1];
    Py_ssize_t s0 = a.strides ? a.strides[0] : 8 * p, s1 = a.strides ? a.strides[1] : 8;
    /* Column-major: unit row stride, columns apart by at least m; row-major the other way. */
    int col_major = p == 0 || ((m <= 1 || s0 == 8) && (p == 1 || (s1 % 8 == 0 && s1 >= 8 * m)));
    int row_major = (p <= 1 || s1 == 8) && (m <= 1 || (s0 % 8 == 0 && s0 >= 8 * p));
    if (!col_major && !row_major) {
        PyErr_SetString(PyExc_ValueError,
                        "A must be a column-major or row-major float64 block (unit stride "
                        "along its columns or its rows)");
        goto done;
    }
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
        if (col_major) {
            Py_ssize_t lda = p > 1 ? s1 / 8 : m;
            Py_BEGIN_ALLOW_THREADS
            wgram(ap, lda, m, p, wp, up, gp, q, intercept);
            Py_END_ALLOW_THREADS
        } else {
            Py_ssize_t ld = m > 1 ? s0 / 8 : p;
            double *T = PyMem_RawMalloc((size_t)((transposed_rows(p) + 8) * p) * sizeof(double));
            if (T == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            Py_BEGIN_ALLOW_THREADS
            wgram_rows(ap, ld, m, p, wp, up, gp, q, intercept, T);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(T);
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    if (a.obj)
        PyBuffer_Release(&a);
    if (w.obj)
        PyBuffer_Release(&w);
    if (u.obj)
        PyBuffer_Release(&u);
    if (g.obj)
        PyBuffer_Release(&g);
    return result;
}

static PyMethodDef methods[] = {
    {"wgram", py_wgram, METH_VARARGS,
     "wgram(A, w, u, G, intercept): add the upper triangle of [1|A]ᵀ diag(w) [1|A] and, if u "
     "is not None, Σ u [1|A] as G's last column, to the Fortran-ordered G. A is a column-major "
     "or row-major float64 block; the GIL is released during the computation."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gram", "Compiled weighted Gram kernel of newtonglm.kernel.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__gram(void) { return PyModule_Create(&module); }
