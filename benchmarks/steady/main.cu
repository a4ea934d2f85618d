// steady: the measurement benchmark's control program.
//
// A GPU program whose work and pace are the same in every run: a fixed number
// of launches of a compute-bound kernel, no host transfers inside the timed
// loop and no host work that depends on the machine's memory traffic. Its net
// energy should vary only as much as the meter and the GPU's own state (clocks,
// temperature) make it vary, which is what the benchmark wants to see beside
// the examples, whose runtimes also carry the host's noise.
//
// Usage: ./steady [launches] [steps]
//   launches  kernel launches               (default 600)
//   steps     length of each of a thread's four fused multiply-add chains (default 300000)

#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <chrono>
#include <cuda_runtime.h>

#define CHECK(call)                                                                       \
    do {                                                                                  \
        cudaError_t err_ = (call);                                                        \
        if (err_ != cudaSuccess) {                                                        \
            std::fprintf(stderr, "CUDA error at %s:%d: %s\n", __FILE__, __LINE__,         \
                         cudaGetErrorString(err_));                                       \
            std::exit(EXIT_FAILURE);                                                      \
        }                                                                                 \
    } while (0)

constexpr int THREADS = 256;
constexpr float A = 0.999f, B = 0.001f;

// The chain each thread runs, on the device and on the host alike (fmaf is fused on both).
__host__ __device__ inline float chain(float x, int steps) {
    float a = x, b = x + 1.0f, c = x + 2.0f, d = x + 3.0f;
    for (int i = 0; i < steps; ++i) {
        a = fmaf(a, A, B); b = fmaf(b, A, B); c = fmaf(c, A, B); d = fmaf(d, A, B);
    }
    return a + b + c + d;
}

__global__ void burn(float* out, int steps) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = chain(static_cast<float>(i % 1024) / 1024.0f, steps);
}

static int arg(int argc, char** argv, int idx, int fallback) {
    if (argc <= idx) return fallback;
    const int v = std::atoi(argv[idx]);
    if (v <= 0) {
        std::fprintf(stderr, "argument %d must be a positive integer (got '%s')\n", idx, argv[idx]);
        std::exit(EXIT_FAILURE);
    }
    return v;
}

int main(int argc, char** argv) {
    const int launches = arg(argc, argv, 1, 600);
    const int steps = arg(argc, argv, 2, 300000);
    int sms = 0;
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    const int blocks = sms * 8;
    const int n = blocks * THREADS;
    float* d_out = nullptr;
    CHECK(cudaMalloc(&d_out, n * sizeof(float)));

    const auto start = std::chrono::steady_clock::now();
    for (int l = 0; l < launches; ++l) burn<<<blocks, THREADS>>>(d_out, steps);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    float sample[4];
    const int picks[4] = {0, 1, n / 2 + 7, n - 1};
    bool ok = true;
    for (int k = 0; k < 4; ++k) {
        CHECK(cudaMemcpy(&sample[k], d_out + picks[k], sizeof(float), cudaMemcpyDeviceToHost));
        ok = ok && sample[k] == chain(static_cast<float>(picks[k] % 1024) / 1024.0f, steps);
    }
    std::printf("steady: %d launches of %d blocks x %d threads, %d steps each\n", launches, blocks, THREADS, steps);
    std::printf("Verification: %s\n", ok ? "PASS" : "FAIL");
    std::printf("Loop time: %.3f s\n", seconds);
    CHECK(cudaFree(d_out));
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
