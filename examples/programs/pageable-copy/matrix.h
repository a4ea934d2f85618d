// matrix.h - the test matrix and the CPU-side check of the eigenpair.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

// Entry (i, j) of the symmetric test matrix: 0.5 plus hashed noise in
// [0, 0.5). The hash only sees the unordered pair {i, j}, so A equals its
// transpose. All entries are positive, which gives one dominant eigenvalue of
// about 0.75 * n, far above the rest of the spectrum, so the power iteration
// settles within a few sweeps.
inline float matrix_entry(uint32_t i, uint32_t j) {
    const uint32_t lo = i < j ? i : j;
    const uint32_t hi = i < j ? j : i;
    uint32_t h = lo * 0x9E3779B1u + hi * 0x85EBCA77u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    return 0.5f + static_cast<float>(h >> 8) * (0.5f / 16777216.0f);
}

// Fill an n x n row-major matrix.
inline void fill_matrix(float* a, int n) {
    for (int i = 0; i < n; ++i) {
        float* row = a + static_cast<size_t>(i) * n;
        for (int j = 0; j < n; ++j) row[j] = matrix_entry(static_cast<uint32_t>(i), static_cast<uint32_t>(j));
    }
}

struct EigenCheck {
    double rayleigh;  // x.Ax / x.x computed on the CPU in double
    double residual;  // ||Ax - rayleigh * x|| / (|rayleigh| * ||x||)
};

// One matrix-vector product on the CPU in double precision, used to judge the
// vector the GPU converged to.
inline EigenCheck check_eigenpair(const float* a, const float* x, int n) {
    double xax = 0.0, xx = 0.0;
    double* ax = new double[n];
    for (int i = 0; i < n; ++i) {
        const float* row = a + static_cast<size_t>(i) * n;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        int j = 0;
        for (; j + 3 < n; j += 4) {
            s0 += static_cast<double>(row[j]) * x[j];
            s1 += static_cast<double>(row[j + 1]) * x[j + 1];
            s2 += static_cast<double>(row[j + 2]) * x[j + 2];
            s3 += static_cast<double>(row[j + 3]) * x[j + 3];
        }
        for (; j < n; ++j) s0 += static_cast<double>(row[j]) * x[j];
        ax[i] = (s0 + s1) + (s2 + s3);
        xax += ax[i] * x[i];
        xx += static_cast<double>(x[i]) * x[i];
    }
    const double lambda = xax / xx;
    double r2 = 0.0;
    for (int i = 0; i < n; ++i) {
        const double d = ax[i] - lambda * x[i];
        r2 += d * d;
    }
    delete[] ax;
    return {lambda, std::sqrt(r2) / (std::fabs(lambda) * std::sqrt(xx))};
}
