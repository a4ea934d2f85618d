// heat2d - 2D heat diffusion with a Jacobi 5-point stencil, parallelised with OpenMP.
//
// A square plate of N x N cells starts cold; its top edge is held at 100 degrees
// and its other edges at 0. Each sweep replaces every interior cell by the mean
// of its four neighbours from the previous sweep (explicit Jacobi iteration), so
// heat spreads down from the top edge. After the last sweep the program prints
// the sum of all cells and checks itself:
//   - the same solver, run on a small 40 x 40 plate, must match a plain serial
//     reference (grid.h) cell for cell;
//   - every cell of the big plate must stay between the coldest and hottest
//     boundary values (a Jacobi average cannot leave that range).
//
// Energy wastes left in on purpose:
//   (a) the sweep walks the row-major grid column by column: consecutive
//       updates are N doubles apart in memory, so almost every access misses
//       the cache and each fetched cache line is used for one value only;
//   (b) every sweep allocates a fresh grid for the new values and then copies
//       the whole grid back into the old one, instead of allocating two grids
//       once and swapping them: extra memory traffic and allocation work on
//       every iteration.
//
// Usage: ./heat2d [N] [iterations]      (defaults: N = 1500, iterations = 80)
//
// Output: grid size and iterations, the checksum (printed to 6 decimals; it is
// summed serially in a fixed order, so it does not depend on the thread count),
// "Verification: PASS" or "FAIL", and a line with the solve time. The exit
// status is 0 whenever the run completes; the verdict is the Verification line.

#include <omp.h>

#include <cstdio>
#include <cstdlib>

#include "grid.h"

// Runs `iters` Jacobi sweeps on g (boundary values are kept fixed).
static void solve(Grid& g, int iters) {
    const int n = g.n;
    for (int it = 0; it < iters; ++it) {
        Grid next = make_initial_grid(n);  // fresh storage on every sweep

        // Column by column: the inner loop strides N doubles through memory.
#pragma omp parallel for
        for (int j = 1; j < n - 1; ++j)
            for (int i = 1; i < n - 1; ++i)
                next(i, j) = 0.25 * ((g(i - 1, j) + g(i + 1, j)) + (g(i, j - 1) + g(i, j + 1)));

        // Copy the whole new grid back into the old one.
#pragma omp parallel for
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j)
                g(i, j) = next(i, j);
    }
}

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 1500;
    const int iters = argc > 2 ? std::atoi(argv[2]) : 80;
    if (n < 3 || iters < 0) {
        std::fprintf(stderr, "usage: %s [N>=3] [iterations>=0]\n", argv[0]);
        return 2;
    }

    std::printf("heat2d: grid %d x %d, %d iterations\n", n, n, iters);

    Grid g = make_initial_grid(n);
    const double t0 = omp_get_wtime();
    solve(g, iters);
    const double t1 = omp_get_wtime();

    std::printf("checksum = %.6f\n", checksum(g));

    // Self-check: the parallel solver against the serial reference on a small plate.
    const int vn = 40, viters = 150;
    Grid small = make_initial_grid(vn);
    solve(small, viters);
    const Grid ref = reference_solve(vn, viters);
    const bool ok = max_abs_diff(small, ref) <= 1e-12 && within_bounds(g) && within_bounds(small);
    std::printf("Verification: %s\n", ok ? "PASS" : "FAIL");

    std::printf("solve time = %.3f s (%d threads)\n", t1 - t0, omp_get_max_threads());
    return 0;  // the self-check verdict is reported by the Verification line
}
