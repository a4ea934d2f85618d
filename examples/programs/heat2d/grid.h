// grid.h - storage and helpers for the heat2d example.
//
// The grid is an N x N array of doubles kept in one row-major std::vector:
// cell (i, j) is row i, column j, stored at v[i * N + j]. The outer ring of
// cells is a fixed (Dirichlet) boundary: the top row is held at T_HOT, the
// other three edges at T_COLD. Everything here is serial on purpose: the
// checksum and the reference solver must give the same bits whatever the
// number of OpenMP threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

constexpr double T_HOT = 100.0;  // temperature of the top edge
constexpr double T_COLD = 0.0;   // temperature of the left, right and bottom edges

struct Grid {
    int n = 0;
    std::vector<double> v;

    explicit Grid(int n_) : n(n_), v(static_cast<std::size_t>(n_) * n_, T_COLD) {}

    double& operator()(int i, int j) { return v[static_cast<std::size_t>(i) * n + j]; }
    double operator()(int i, int j) const { return v[static_cast<std::size_t>(i) * n + j]; }
};

// Writes the fixed boundary values (the interior is left as it is).
inline void apply_boundary(Grid& g) {
    const int n = g.n;
    for (int j = 0; j < n; ++j) {
        g(0, j) = T_HOT;
        g(n - 1, j) = T_COLD;
    }
    for (int i = 1; i < n - 1; ++i) {
        g(i, 0) = T_COLD;
        g(i, n - 1) = T_COLD;
    }
}

// A new grid: cold interior, boundary applied.
inline Grid make_initial_grid(int n) {
    Grid g(n);
    apply_boundary(g);
    return g;
}

// Sum of every cell, row after row in one thread, so the rounding is the same
// on any thread count.
inline double checksum(const Grid& g) {
    double s = 0.0;
    for (std::size_t k = 0; k < g.v.size(); ++k) s += g.v[k];
    return s;
}

// Straightforward serial Jacobi solver used only to check the parallel one on
// a small grid. The update is written exactly as the parallel code writes it,
// so both must agree to the last bit.
inline Grid reference_solve(int n, int iters) {
    Grid a = make_initial_grid(n);
    Grid b = a;
    for (int it = 0; it < iters; ++it) {
        for (int i = 1; i < n - 1; ++i)
            for (int j = 1; j < n - 1; ++j)
                b(i, j) = 0.25 * ((a(i - 1, j) + a(i + 1, j)) + (a(i, j - 1) + a(i, j + 1)));
        std::swap(a.v, b.v);
    }
    return a;
}

// Largest absolute difference between two grids of the same size.
inline double max_abs_diff(const Grid& a, const Grid& b) {
    double d = 0.0;
    for (std::size_t k = 0; k < a.v.size(); ++k) d = std::max(d, std::fabs(a.v[k] - b.v[k]));
    return d;
}

// Discrete maximum principle: a Jacobi sweep averages its neighbours, so no
// cell may leave the range spanned by the boundary temperatures.
inline bool within_bounds(const Grid& g) {
    for (double x : g.v)
        if (!std::isfinite(x) || x < T_COLD || x > T_HOT) return false;
    return true;
}
