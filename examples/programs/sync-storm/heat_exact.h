// heat_exact.h - initial field and exact discrete solution of the explicit
// 2-D heat scheme with the boundary held at zero.
//
// On an n x n interior grid with spacing h = 1 / (n + 1), the discrete sine
// mode s(i, j) = sin(k*pi*i*h) * sin(l*pi*j*h) is an eigenvector of the
// five-point Laplacian. One explicit step
//     u' = u + r * (u_w + u_e + u_s + u_n - 4 u)
// therefore multiplies that mode by the constant
//     g(k, l) = 1 - 4 r (sin^2(k*pi*h/2) + sin^2(l*pi*h/2)),
// and a field made of a few modes stays made of them. That gives the exact
// answer after any number of steps without re-running the solver on the CPU.
#pragma once

#include <cmath>
#include <cstddef>

struct HeatMode {
    int k, l;          // wave numbers along i and j
    double amplitude;  // initial amplitude
};

constexpr HeatMode HEAT_MODES[] = {{1, 1, 1.0}, {2, 3, 0.5}, {5, 1, 0.25}};
constexpr double HEAT_PI = 3.14159265358979323846;

inline double heat_mode_shape(const HeatMode& m, int i, int j, int n) {
    const double h = 1.0 / (n + 1);
    return std::sin(m.k * HEAT_PI * i * h) * std::sin(m.l * HEAT_PI * j * h);
}

inline double heat_mode_gain(const HeatMode& m, int n, double r) {
    const double h = 1.0 / (n + 1);
    const double sk = std::sin(0.5 * m.k * HEAT_PI * h);
    const double sl = std::sin(0.5 * m.l * HEAT_PI * h);
    return 1.0 - 4.0 * r * (sk * sk + sl * sl);
}

// Fill the (n + 2) x (n + 2) array, ghost ring included (zero), with the
// initial field.
inline void heat_initial_field(float* u, int n) {
    const int ld = n + 2;
    for (int i = 0; i < ld; ++i)
        for (int j = 0; j < ld; ++j) {
            double v = 0.0;
            if (i > 0 && i <= n && j > 0 && j <= n)
                for (const HeatMode& m : HEAT_MODES) v += m.amplitude * heat_mode_shape(m, i, j, n);
            u[static_cast<size_t>(i) * ld + j] = static_cast<float>(v);
        }
}

// Largest absolute difference between a computed field (ghost ring included)
// and the exact discrete solution after `steps` steps.
inline double heat_max_error(const float* u, int n, double r, long long steps) {
    const int ld = n + 2;
    double gain[sizeof(HEAT_MODES) / sizeof(HEAT_MODES[0])];
    int m = 0;
    for (const HeatMode& mode : HEAT_MODES) gain[m++] = std::pow(heat_mode_gain(mode, n, r), static_cast<double>(steps));
    double err = 0.0;
    for (int i = 0; i < ld; ++i)
        for (int j = 0; j < ld; ++j) {
            double exact = 0.0;
            if (i > 0 && i <= n && j > 0 && j <= n) {
                m = 0;
                for (const HeatMode& mode : HEAT_MODES) exact += mode.amplitude * gain[m++] * heat_mode_shape(mode, i, j, n);
            }
            err = std::fmax(err, std::fabs(u[static_cast<size_t>(i) * ld + j] - exact));
        }
    return err;
}
