// blur_ref.h - synthetic test image and the CPU reference for the 7x7 blur.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

constexpr int BLUR_RADIUS = 3;     // 7x7 window
constexpr float BLUR_SIGMA = 1.6f; // Gaussian width in pixels

// Grey value in [0, 1) for pixel (x, y): a diagonal ramp plus hashed noise.
// Integer hashing keeps the image identical on every machine.
inline float synthetic_pixel(int x, int y) {
    uint32_t h = static_cast<uint32_t>(x) * 73856093u ^ static_cast<uint32_t>(y) * 19349663u;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    const float noise = static_cast<float>(h & 0xFFFFFFu) * (1.0f / 16777216.0f);
    const float ramp = static_cast<float>((x + y) & 255) * (1.0f / 256.0f);
    return 0.5f * ramp + 0.5f * noise;
}

inline void fill_image(float* img, int width, int height) {
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            img[static_cast<size_t>(y) * width + x] = synthetic_pixel(x, y);
}

// Blur one output row on the CPU with clamp-to-edge borders, normalising by
// the sum of the window weights. Weights and sums are kept in double; the GPU
// result is compared against this row with a tolerance.
inline void blur_row_reference(const float* in, float* out_row, int width, int height, int y) {
    constexpr int span = 2 * BLUR_RADIUS + 1;
    const double inv_two_sigma_sq = 1.0 / (2.0 * BLUR_SIGMA * BLUR_SIGMA);
    double weight[span][span];
    double wsum = 0.0;
    for (int dy = -BLUR_RADIUS; dy <= BLUR_RADIUS; ++dy)
        for (int dx = -BLUR_RADIUS; dx <= BLUR_RADIUS; ++dx) {
            const double w = std::exp(-static_cast<double>(dx * dx + dy * dy) * inv_two_sigma_sq);
            weight[dy + BLUR_RADIUS][dx + BLUR_RADIUS] = w;
            wsum += w;
        }
    for (int x = 0; x < width; ++x) {
        double acc = 0.0;
        for (int dy = -BLUR_RADIUS; dy <= BLUR_RADIUS; ++dy) {
            const int yy = std::min(std::max(y + dy, 0), height - 1);
            for (int dx = -BLUR_RADIUS; dx <= BLUR_RADIUS; ++dx) {
                const int xx = std::min(std::max(x + dx, 0), width - 1);
                acc += weight[dy + BLUR_RADIUS][dx + BLUR_RADIUS] * in[static_cast<size_t>(yy) * width + xx];
            }
        }
        out_row[x] = static_cast<float>(acc / wsum);
    }
}
