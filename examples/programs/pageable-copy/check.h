// check.h - CUDA error checking and a host stopwatch for the power iteration.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

// Abort with a message and a non-zero exit status when a CUDA call fails.
#define CHECK(call)                                                             \
    do {                                                                        \
        cudaError_t check_err_ = (call);                                        \
        if (check_err_ != cudaSuccess) {                                        \
            std::fprintf(stderr, "CUDA error at %s:%d: %s failed: %s\n",        \
                         __FILE__, __LINE__, #call,                             \
                         cudaGetErrorString(check_err_));                       \
            std::exit(EXIT_FAILURE);                                            \
        }                                                                       \
    } while (0)

// Use right after a kernel launch: reports bad launch configurations.
#define CHECK_LAUNCH() CHECK(cudaGetLastError())

// Host wall-clock stopwatch (seconds since construction or the last reset()).
class WallTimer {
public:
    WallTimer() : start_(std::chrono::steady_clock::now()) {}
    void reset() { start_ = std::chrono::steady_clock::now(); }
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    std::chrono::steady_clock::time_point start_;
};
