// transfer-loop: repeated 7x7 Gaussian blur of a synthetic grey-scale image.
//
// The program is shaped like a typical benchmark harness: it blurs the same
// image `repeat` times, reports the average time of one repetition, and then
// checks the final image (checksum plus a comparison of sampled rows against
// a CPU reference).
//
// Deliberate energy waste: every repetition copies the unchanged input image
// from pageable host memory to the GPU and copies the blurred image back,
// although the input never changes and only the image left after the last
// repetition is looked at. Per repetition the two copies move 2 x 64 MiB over
// PCIe and take 20 to 40 times as long as the blur kernel, so the GPU spends
// most of the run waiting on transfers.
//
// Usage: ./prog [width] [height] [repeat]
//   width, height  image size in pixels          (default 4096 x 4096)
//   repeat         number of blur repetitions    (default 400)

#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <algorithm>
#include <vector>

#include "check.h"
#include "blur_ref.h"

// One thread per output pixel. The window weights are recomputed with expf
// for every pixel and normalised by their sum.
__global__ void gaussian_blur(const float* __restrict__ in, float* __restrict__ out,
                              int width, int height, float inv_two_sigma_sq) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) return;

    float acc = 0.0f;
    float wsum = 0.0f;
    for (int dy = -BLUR_RADIUS; dy <= BLUR_RADIUS; ++dy) {
        const int yy = min(max(y + dy, 0), height - 1);
        for (int dx = -BLUR_RADIUS; dx <= BLUR_RADIUS; ++dx) {
            const int xx = min(max(x + dx, 0), width - 1);
            const float w = expf(-static_cast<float>(dx * dx + dy * dy) * inv_two_sigma_sq);
            acc += w * in[static_cast<size_t>(yy) * width + xx];
            wsum += w;
        }
    }
    out[static_cast<size_t>(y) * width + x] = acc / wsum;
}

static int parse_arg(int argc, char** argv, int idx, int fallback) {
    if (argc <= idx) return fallback;
    const int v = std::atoi(argv[idx]);
    if (v <= 0) {
        std::fprintf(stderr, "argument %d must be a positive integer (got '%s')\n", idx, argv[idx]);
        std::exit(EXIT_FAILURE);
    }
    return v;
}

int main(int argc, char** argv) {
    const int width = parse_arg(argc, argv, 1, 4096);
    const int height = parse_arg(argc, argv, 2, 4096);
    const int repeat = parse_arg(argc, argv, 3, 400);

    const size_t pixels = static_cast<size_t>(width) * height;
    const size_t bytes = pixels * sizeof(float);

    float* h_in = static_cast<float*>(std::malloc(bytes));
    float* h_out = static_cast<float*>(std::malloc(bytes));
    if (!h_in || !h_out) {
        std::fprintf(stderr, "host allocation of %zu bytes failed\n", bytes);
        return EXIT_FAILURE;
    }
    fill_image(h_in, width, height);

    float* d_in = nullptr;
    float* d_out = nullptr;
    CHECK(cudaMalloc(&d_in, bytes));
    CHECK(cudaMalloc(&d_out, bytes));

    const dim3 block(16, 16);
    const dim3 grid((width + block.x - 1) / block.x, (height + block.y - 1) / block.y);
    const float inv_two_sigma_sq = 1.0f / (2.0f * BLUR_SIGMA * BLUR_SIGMA);

    WallTimer timer;
    for (int r = 0; r < repeat; ++r) {
        CHECK(cudaMemcpy(d_in, h_in, bytes, cudaMemcpyHostToDevice));
        gaussian_blur<<<grid, block>>>(d_in, d_out, width, height, inv_two_sigma_sq);
        CHECK_LAUNCH();
        CHECK(cudaMemcpy(h_out, d_out, bytes, cudaMemcpyDeviceToHost));
    }
    const double loop_seconds = timer.seconds();

    // Checksum over the whole final image.
    double checksum = 0.0;
    for (size_t i = 0; i < pixels; ++i) checksum += h_out[i];

    // Compare about 64 evenly spaced rows, plus the bottom edge, with the CPU.
    std::vector<int> check_rows;
    for (int y = 0; y < height; y += std::max(1, height / 64)) check_rows.push_back(y);
    if (check_rows.back() != height - 1) check_rows.push_back(height - 1);
    std::vector<float> ref_row(width);
    double max_err = 0.0;
    for (int y : check_rows) {
        blur_row_reference(h_in, ref_row.data(), width, height, y);
        const float* gpu_row = h_out + static_cast<size_t>(y) * width;
        for (int x = 0; x < width; ++x)
            max_err = std::max(max_err, static_cast<double>(std::fabs(gpu_row[x] - ref_row[x])));
    }
    const bool ok = max_err <= 1e-5;

    std::printf("Gaussian blur 7x7: %d x %d image, %d repetitions\n", width, height, repeat);
    std::printf("checksum = %.6e\n", checksum);
    std::printf("Verification: %s\n", ok ? "PASS" : "FAIL");
    std::printf("Total loop time: %.3f s\n", loop_seconds);
    std::printf("Average time per repetition: %.3f ms\n", 1e3 * loop_seconds / repeat);

    CHECK(cudaFree(d_in));
    CHECK(cudaFree(d_out));
    std::free(h_in);
    std::free(h_out);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
