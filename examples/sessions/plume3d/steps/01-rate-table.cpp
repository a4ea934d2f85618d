// plume3d - a pollutant plume carried by the wind through a 3D box of air: advection, eddy diffusion
// and a temperature-dependent chemical decay of a gas released by a continuous point source,
// parallelised with OpenMP.
//
// The box holds nx x ny x nz cubic cells of side h (x downwind, y across the wind, z up). The wind
// follows a logarithmic profile in height with a cross-wind swirl on top; the air cools with height
// at a constant lapse rate, and the gas decays at the Arrhenius rate of the local temperature. Every
// step is explicit and conservative: upwind fluxes on the cell faces, a 7-point diffusion stencil,
// the source's release added to its cells, then the decay, solved implicitly for each cell. The
// outermost layer of cells is outside the air (held at zero): what reaches it has left the box.
//
// Every few steps the program prints the mass in the box, the peak concentration and where it is,
// and the centre of mass of the plume. At the end it prints the mass budget (released = decayed +
// in the box + left the box) and checks itself:
//   - the same kernels, run on a small box, must match a plain serial reference cell for cell;
//   - no cell may be negative, and the budget must close with a non-negative outflow.
// All sums are taken row by row and then added in a fixed order, so the printed figures do not
// depend on the number of threads.
//
// Energy wastes left in on purpose:
//   (a) the reaction kernel evaluates the rate law (an exp) for every cell of every step, although
//       the temperature, and so the rate, depends on the height alone and never changes;
//   (b) the transport kernel's innermost loop runs across the wind (y), while x is the index that is
//       contiguous in memory: consecutive cells are nx doubles apart, so every access of the
//       seven-field stencil touches a new cache line and the loop is not vectorised.
//
// Usage: ./plume3d [nx] [ny] [nz] [steps]     (defaults: 128 96 48 40)

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr double kPi = 3.14159265358979323846;

// ------------------------------------------------------------------------------------ parameters

struct Params {
    int nx = 128, ny = 96, nz = 48;  // cells, the outer layer included
    int steps = 40;                  // time steps
    int report_every = 10;           // steps between two diagnostic lines
    double h = 10.0;                 // cell side [m]
    double wind = 6.0;               // wind speed at the reference height [m/s]
    double z_ref = 100.0;            // reference height of the wind profile [m]
    double z_rough = 0.3;            // roughness length of the ground [m]
    double swirl = 1.2;              // amplitude of the cross-wind swirl [m/s]
    double diffusivity = 3.0;        // eddy diffusivity [m^2/s]
    double release = 40.0;           // source strength [g/s]
    double src_x = 0.2, src_y = 0.45, src_z = 0.04;  // source position, as fractions of the box
    double src_radius = 1.5;         // source radius, in cells
    double t_ground = 298.0;         // air temperature at the ground [K]
    double lapse = 0.0098;           // temperature lapse rate [K/m]
    double pre_factor = 2.0e4;       // Arrhenius pre-factor [1/s]
    double activation = 4000.0;      // activation temperature Ea/R [K]
    double cfl = 0.4;                // safety factor of the step length
};

struct Box {
    int nx, ny, nz;
    std::size_t cells() const { return static_cast<std::size_t>(nx) * ny * nz; }
    std::size_t at(int i, int j, int k) const { return (static_cast<std::size_t>(k) * ny + j) * nx + i; }
};

struct SourceCell {
    std::size_t index;
    double weight;  // share of the release; the shares sum to 1
};

struct Fields {
    std::vector<double> c, next;   // concentration now and after the transport step [g/m^3]
    std::vector<double> u, v, w;   // wind at the cell centres [m/s]
    std::vector<SourceCell> source;
};

struct Diagnostics {
    double mass = 0.0, peak = 0.0;
    int peak_i = 0, peak_j = 0, peak_k = 0;
    double cx = 0.0, cy = 0.0, cz = 0.0;  // centre of mass [m]
};

double height(const Params& p, int k) { return (k - 0.5) * p.h; }  // layer 0 lies below the ground

// ----------------------------------------------------------------------------------------- setup

void make_wind(const Params& p, const Box& b, Fields& f) {
    const double lx = b.nx * p.h, ly = b.ny * p.h, lz = b.nz * p.h;
    const double scale = p.wind / std::log(1.0 + p.z_ref / p.z_rough);
#pragma omp parallel for collapse(2)
    for (int k = 0; k < b.nz; ++k)
        for (int j = 0; j < b.ny; ++j)
            for (int i = 0; i < b.nx; ++i) {
                const double x = (i + 0.5) * p.h, y = (j + 0.5) * p.h, z = std::max(height(p, k), 0.0);
                const std::size_t id = b.at(i, j, k);
                f.u[id] = scale * std::log(1.0 + z / p.z_rough);
                f.v[id] = p.swirl * std::sin(2.0 * kPi * x / lx) * std::cos(kPi * y / ly);
                f.w[id] = 0.25 * p.swirl * std::sin(kPi * z / lz) * std::cos(2.0 * kPi * y / ly);
            }
}

void make_source(const Params& p, const Box& b, Fields& f) {
    const double si = p.src_x * b.nx, sj = p.src_y * b.ny, sk = p.src_z * b.nz;
    const int reach = static_cast<int>(std::ceil(p.src_radius));
    double total = 0.0;
    for (int k = static_cast<int>(sk) - reach; k <= static_cast<int>(sk) + reach; ++k)
        for (int j = static_cast<int>(sj) - reach; j <= static_cast<int>(sj) + reach; ++j)
            for (int i = static_cast<int>(si) - reach; i <= static_cast<int>(si) + reach; ++i) {
                if (i < 1 || j < 1 || k < 1 || i > b.nx - 2 || j > b.ny - 2 || k > b.nz - 2) continue;
                const double di = i + 0.5 - si, dj = j + 0.5 - sj, dk = k + 0.5 - sk;
                const double r2 = (di * di + dj * dj + dk * dk) / (p.src_radius * p.src_radius);
                if (r2 > 1.0) continue;
                const double weight = std::exp(-3.0 * r2);
                f.source.push_back({b.at(i, j, k), weight});
                total += weight;
            }
    for (SourceCell& s : f.source) s.weight /= total;
}

Fields make_fields(const Params& p, const Box& b) {
    Fields f;
    f.c.assign(b.cells(), 0.0);
    f.next.assign(b.cells(), 0.0);
    f.u.assign(b.cells(), 0.0);
    f.v.assign(b.cells(), 0.0);
    f.w.assign(b.cells(), 0.0);
    make_wind(p, b, f);
    make_source(p, b, f);
    return f;
}

// The longest step that keeps the explicit scheme stable and the concentrations non-negative.
double step_length(const Params& p, const Box& b, const Fields& f) {
    double fastest = 1e-30;
    for (std::size_t id = 0; id < b.cells(); ++id)
        fastest = std::max(fastest, std::fabs(f.u[id]) + std::fabs(f.v[id]) + std::fabs(f.w[id]));
    return p.cfl * std::min(p.h / fastest, p.h * p.h / (6.0 * p.diffusivity));
}

// --------------------------------------------------------------------------------------- kernels

// Upwind flux of c through the face between cells a (behind) and b (ahead), at face wind vf.
inline double upwind(double vf, double ca, double cb) { return vf > 0.0 ? vf * ca : vf * cb; }

// One transport step of every interior cell: c -> next.
void transport(const Params& p, const Box& b, Fields& f, double dt) {
    const std::size_t sy = b.nx, sz = static_cast<std::size_t>(b.nx) * b.ny;
    const double inv_h = 1.0 / p.h, kd = p.diffusivity / (p.h * p.h);
    const double* c = f.c.data();
    const double *u = f.u.data(), *v = f.v.data(), *w = f.w.data();
    double* out = f.next.data();
#pragma omp parallel for collapse(2)
    for (int k = 1; k < b.nz - 1; ++k)
        for (int i = 1; i < b.nx - 1; ++i)
            for (int j = 1; j < b.ny - 1; ++j) {
                const std::size_t id = b.at(i, j, k);
                const double cc = c[id];
                const double fw = upwind(0.5 * (u[id - 1] + u[id]), c[id - 1], cc);
                const double fe = upwind(0.5 * (u[id] + u[id + 1]), cc, c[id + 1]);
                const double fs = upwind(0.5 * (v[id - sy] + v[id]), c[id - sy], cc);
                const double fn = upwind(0.5 * (v[id] + v[id + sy]), cc, c[id + sy]);
                const double fb = upwind(0.5 * (w[id - sz] + w[id]), c[id - sz], cc);
                const double ft = upwind(0.5 * (w[id] + w[id + sz]), cc, c[id + sz]);
                const double advection = -((fe - fw) + (fn - fs) + (ft - fb)) * inv_h;
                const double diffusion = kd * ((c[id - 1] + c[id + 1]) + (c[id - sy] + c[id + sy]) +
                                               (c[id - sz] + c[id + sz]) - 6.0 * cc);
                out[id] = cc + dt * (advection + diffusion);
            }
}

// The source's release over one step, added to its cells.
void emit(const Params& p, Fields& f, double dt) {
    const double per_cell_volume = dt * p.release / (p.h * p.h * p.h);
    for (const SourceCell& s : f.source) f.next[s.index] += per_cell_volume * s.weight;
}

// The Arrhenius rate of every layer: the temperature depends on the height alone and never changes.
std::vector<double> rate_by_layer(const Params& p, const Box& b) {
    std::vector<double> rate(b.nz, 0.0);
    for (int k = 1; k < b.nz - 1; ++k) {
        const double temperature = p.t_ground - p.lapse * height(p, k);
        rate[k] = p.pre_factor * std::exp(-p.activation / temperature);
    }
    return rate;
}

// First-order decay at the local Arrhenius rate, implicit in time; returns the mass that decayed.
double react(const Params& p, const Box& b, Fields& f, double dt, const std::vector<double>& rate,
             std::vector<double>& row_sums) {
    const double volume = p.h * p.h * p.h;
#pragma omp parallel for collapse(2)
    for (int k = 1; k < b.nz - 1; ++k)
        for (int j = 1; j < b.ny - 1; ++j) {
            const double divisor = 1.0 + dt * rate[k];
            double lost = 0.0;
            for (int i = 1; i < b.nx - 1; ++i) {
                const std::size_t id = b.at(i, j, k);
                const double before = f.c[id];
                f.c[id] = before / divisor;
                lost += (before - f.c[id]) * volume;
            }
            row_sums[static_cast<std::size_t>(k) * b.ny + j] = lost;
        }
    double total = 0.0;
    for (double s : row_sums) total += s;
    return total;
}

// Mass, peak and centre of mass of the plume, summed row by row and then in storage order.
Diagnostics diagnose(const Params& p, const Box& b, const Fields& f) {
    const std::size_t rows = static_cast<std::size_t>(b.ny) * b.nz;
    std::vector<double> mass(rows, 0.0), mx(rows, 0.0), my(rows, 0.0), mz(rows, 0.0), peak(rows, -1.0);
    std::vector<int> peak_at(rows, 0);
    const double volume = p.h * p.h * p.h;
#pragma omp parallel for collapse(2)
    for (int k = 1; k < b.nz - 1; ++k)
        for (int j = 1; j < b.ny - 1; ++j) {
            const std::size_t r = static_cast<std::size_t>(k) * b.ny + j;
            for (int i = 1; i < b.nx - 1; ++i) {
                const double m = f.c[b.at(i, j, k)] * volume;
                mass[r] += m;
                mx[r] += m * (i + 0.5) * p.h;
                my[r] += m * (j + 0.5) * p.h;
                mz[r] += m * height(p, k);
                if (f.c[b.at(i, j, k)] > peak[r]) { peak[r] = f.c[b.at(i, j, k)]; peak_at[r] = i; }
            }
        }
    Diagnostics d;
    d.peak = -1.0;
    for (std::size_t r = 0; r < rows; ++r) {
        d.mass += mass[r];
        d.cx += mx[r];
        d.cy += my[r];
        d.cz += mz[r];
        if (peak[r] > d.peak) {
            d.peak = peak[r];
            d.peak_i = peak_at[r];
            d.peak_j = static_cast<int>(r % b.ny);
            d.peak_k = static_cast<int>(r / b.ny);
        }
    }
    if (d.mass > 0.0) { d.cx /= d.mass; d.cy /= d.mass; d.cz /= d.mass; }
    return d;
}

// ---------------------------------------------------------------------------------------- solver

struct Budget {
    double released = 0.0, decayed = 0.0;
    double transport_s = 0.0, reaction_s = 0.0;
};

// Runs `steps` steps from an empty box; prints a diagnostic line every report_every steps if `loud`.
Budget solve(const Params& p, const Box& b, Fields& f, int steps, double dt, bool loud) {
    Budget budget;
    std::vector<double> row_sums(static_cast<std::size_t>(b.ny) * b.nz, 0.0);
    const std::vector<double> rate = rate_by_layer(p, b);
    for (int step = 1; step <= steps; ++step) {
        const double t0 = omp_get_wtime();
        transport(p, b, f, dt);
        emit(p, f, dt);
        f.c.swap(f.next);
        budget.released += dt * p.release;
        const double t1 = omp_get_wtime();
        budget.decayed += react(p, b, f, dt, rate, row_sums);
        const double t2 = omp_get_wtime();
        budget.transport_s += t1 - t0;
        budget.reaction_s += t2 - t1;
        if (loud && (step % p.report_every == 0 || step == steps)) {
            const Diagnostics d = diagnose(p, b, f);
            std::printf("step %4d: mass %.9e g, peak %.9e g/m3 at cell (%d, %d, %d), centre of mass"
                        " (%.4f, %.4f, %.4f) m\n", step, d.mass, d.peak, d.peak_i, d.peak_j, d.peak_k,
                        d.cx, d.cy, d.cz);
        }
    }
    return budget;
}

// ------------------------------------------------------------------------------------ reference

// The same model in its plainest serial form, for the self-check on a small box.
std::vector<double> reference_solve(const Params& p, const Box& b, int steps, double dt) {
    Fields f = make_fields(p, b);
    std::vector<double> c(b.cells(), 0.0), next(b.cells(), 0.0);
    const double volume = p.h * p.h * p.h;
    for (int step = 0; step < steps; ++step) {
        for (int k = 1; k < b.nz - 1; ++k)
            for (int j = 1; j < b.ny - 1; ++j)
                for (int i = 1; i < b.nx - 1; ++i) {
                    const std::size_t id = b.at(i, j, k);
                    const std::size_t xm = b.at(i - 1, j, k), xp = b.at(i + 1, j, k);
                    const std::size_t ym = b.at(i, j - 1, k), yp = b.at(i, j + 1, k);
                    const std::size_t zm = b.at(i, j, k - 1), zp = b.at(i, j, k + 1);
                    const double fw = upwind(0.5 * (f.u[xm] + f.u[id]), c[xm], c[id]);
                    const double fe = upwind(0.5 * (f.u[id] + f.u[xp]), c[id], c[xp]);
                    const double fs = upwind(0.5 * (f.v[ym] + f.v[id]), c[ym], c[id]);
                    const double fn = upwind(0.5 * (f.v[id] + f.v[yp]), c[id], c[yp]);
                    const double fb = upwind(0.5 * (f.w[zm] + f.w[id]), c[zm], c[id]);
                    const double ft = upwind(0.5 * (f.w[id] + f.w[zp]), c[id], c[zp]);
                    const double advection = -((fe - fw) + (fn - fs) + (ft - fb)) / p.h;
                    const double diffusion = p.diffusivity / (p.h * p.h) *
                                             ((c[xm] + c[xp]) + (c[ym] + c[yp]) + (c[zm] + c[zp]) - 6.0 * c[id]);
                    next[id] = c[id] + dt * (advection + diffusion);
                }
        for (const SourceCell& s : f.source) next[s.index] += dt * p.release / volume * s.weight;
        c.swap(next);
        for (int k = 1; k < b.nz - 1; ++k) {
            const double temperature = p.t_ground - p.lapse * height(p, k);
            const double rate = p.pre_factor * std::exp(-p.activation / temperature);
            for (int j = 1; j < b.ny - 1; ++j)
                for (int i = 1; i < b.nx - 1; ++i) c[b.at(i, j, k)] /= 1.0 + dt * rate;
        }
    }
    return c;
}

bool self_check(const Params& p) {
    const Box small{20, 16, 12};
    const int steps = 25;
    Fields f = make_fields(p, small);
    const double dt = step_length(p, small, f);
    solve(p, small, f, steps, dt, false);
    const std::vector<double> ref = reference_solve(p, small, steps, dt);
    double worst = 0.0, scale = 0.0;
    for (std::size_t id = 0; id < small.cells(); ++id) {
        worst = std::max(worst, std::fabs(f.c[id] - ref[id]));
        scale = std::max(scale, std::fabs(ref[id]));
    }
    return scale > 0.0 && worst <= 1e-12 * scale;
}

}  // namespace

int main(int argc, char** argv) {
    Params p;
    if (argc > 1) p.nx = std::atoi(argv[1]);
    if (argc > 2) p.ny = std::atoi(argv[2]);
    if (argc > 3) p.nz = std::atoi(argv[3]);
    if (argc > 4) p.steps = std::atoi(argv[4]);
    if (p.nx < 8 || p.ny < 8 || p.nz < 8 || p.steps < 1) {
        std::fprintf(stderr, "usage: %s [nx>=8] [ny>=8] [nz>=8] [steps>=1]\n", argv[0]);
        return 2;
    }
    const Box box{p.nx, p.ny, p.nz};

    Fields f = make_fields(p, box);
    const double dt = step_length(p, box, f);
    std::printf("plume3d: %d x %d x %d cells of %.1f m, %d steps of dt = %.6f, %zu source cells\n", p.nx, p.ny,
                p.nz, p.h, p.steps, dt, f.source.size());

    const double t0 = omp_get_wtime();
    const Budget budget = solve(p, box, f, p.steps, dt, true);
    const double t1 = omp_get_wtime();

    const Diagnostics d = diagnose(p, box, f);
    const double outflow = budget.released - budget.decayed - d.mass;
    std::printf("mass budget: released %.9e g = decayed %.9e g + in the box %.9e g + left the box %.9e g\n",
                budget.released, budget.decayed, d.mass, outflow);

    bool non_negative = true;
    for (double c : f.c) non_negative = non_negative && c >= 0.0;
    const bool closes = outflow >= -1e-9 * budget.released;
    const bool ok = self_check(p) && non_negative && closes;
    std::printf("Verification: %s\n", ok ? "PASS" : "FAIL");

    std::printf("solve time = %.3f s (transport %.3f s, reaction %.3f s; %d threads)\n", t1 - t0,
                budget.transport_s, budget.reaction_s, omp_get_max_threads());
    return 0;  // the self-check verdict is reported by the Verification line
}
