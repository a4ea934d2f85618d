// workload_counter.cpp - what a CUDA program asked the GPU to do, counted without changing the program.
//
// Built as a shared library and named in CUDA_INJECTION64_PATH, it is loaded by the CUDA driver when
// the program initialises CUDA; the driver calls InitializeInjection(), which switches on CUPTI's
// activity records for kernels, memory copies and memsets. Records are tallied as CUPTI hands over
// its buffers; at exit the tallies are appended to the file named by LASSI_WORKLOAD_OUT, one block
// per process, as tab-separated lines:
//
//   process <pid>
//   kernel  <launches> <threads launched> <GPU ns> <demangled name>
//   copy    <copies> <bytes> <GPU ns> <direction> <host memory: pageable | pinned | none | other>
//   memset  <memsets> <bytes> <GPU ns>
//   dropped <records CUPTI could not keep>
//   end
//
// Kernels run from CUDA graphs are recorded one by one, so a graph that replays the same launches
// counts the same work. A block without its "end" line means the process did not exit normally.

#include <cupti.h>
#include <cxxabi.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unistd.h>

#if CUPTI_API_VERSION < 130000
#error "the workload counter reads the activity records of CUPTI from CUDA 13 or newer"
#endif

namespace {

typedef CUpti_ActivityKernel10 KernelRecord;
typedef CUpti_ActivityMemcpy6 CopyRecord;
typedef CUpti_ActivityMemset4 SetRecord;

constexpr size_t BUFFER_BYTES = 8u << 20;
constexpr size_t RECORD_ALIGN = 8;

struct Tally {
    unsigned long long count = 0, amount = 0, ns = 0;  // amount: threads (kernels) or bytes (copies)
};

std::mutex tally_lock;
std::map<std::string, Tally> kernels;                         // by demangled name
std::map<std::pair<std::string, std::string>, Tally> copies;  // by (direction, host memory)
Tally memsets;
size_t dropped = 0;
bool reported = false;

void add(Tally& t, unsigned long long count, unsigned long long amount, uint64_t start, uint64_t end) {
    t.count += count;
    t.amount += amount;
    t.ns += end > start ? end - start : 0;
}

std::string demangled(const char* name) {
    if (!name) return "(unnamed kernel)";
    int status = 0;
    char* plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string out = status == 0 && plain ? plain : name;
    std::free(plain);
    for (char& c : out)
        if (c == '\t' || c == '\n') c = ' ';
    return out;
}

const char* direction(uint8_t kind) {
    switch (kind) {
        case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: case CUPTI_ACTIVITY_MEMCPY_KIND_HTOA: return "host-to-device";
        case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: case CUPTI_ACTIVITY_MEMCPY_KIND_ATOH: return "device-to-host";
        case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: case CUPTI_ACTIVITY_MEMCPY_KIND_ATOA:
        case CUPTI_ACTIVITY_MEMCPY_KIND_ATOD: case CUPTI_ACTIVITY_MEMCPY_KIND_DTOA: return "device-to-device";
        case CUPTI_ACTIVITY_MEMCPY_KIND_HTOH: return "host-to-host";
        case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP: return "peer-to-peer";
        default: return "other";
    }
}

const char* host_memory(const CopyRecord* r) {
    uint8_t host;
    switch (r->copyKind) {
        case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: case CUPTI_ACTIVITY_MEMCPY_KIND_HTOA: host = r->srcKind; break;
        case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: case CUPTI_ACTIVITY_MEMCPY_KIND_ATOH: host = r->dstKind; break;
        default: return "none";
    }
    switch (host) {
        case CUPTI_ACTIVITY_MEMORY_KIND_PAGEABLE: return "pageable";
        case CUPTI_ACTIVITY_MEMORY_KIND_PINNED: return "pinned";
        default: return "other";
    }
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
    *buffer = static_cast<uint8_t*>(std::aligned_alloc(RECORD_ALIGN, BUFFER_BYTES));
    *size = *buffer ? BUFFER_BYTES : 0;
    *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
    std::lock_guard<std::mutex> guard(tally_lock);
    CUpti_Activity* record = nullptr;
    while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
        if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
            auto* k = reinterpret_cast<const KernelRecord*>(record);
            const unsigned long long threads = 1ull * k->gridX * k->gridY * k->gridZ * k->blockX * k->blockY * k->blockZ;
            add(kernels[demangled(k->name)], 1, threads, k->start, k->end);
        } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
            auto* c = reinterpret_cast<const CopyRecord*>(record);
            add(copies[{direction(c->copyKind), host_memory(c)}], c->copyCount ? c->copyCount : 1, c->bytes, c->start,
                c->end);
        } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
            auto* s = reinterpret_cast<const SetRecord*>(record);
            add(memsets, 1, s->bytes, s->start, s->end);
        }
    }
    size_t lost = 0;
    if (cuptiActivityGetNumDroppedRecords(nullptr, 0, &lost) == CUPTI_SUCCESS) dropped += lost;
    std::free(buffer);
}

void report() {
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    std::lock_guard<std::mutex> guard(tally_lock);
    const char* path = std::getenv("LASSI_WORKLOAD_OUT");
    if (reported || !path || !*path) return;
    reported = true;
    FILE* out = std::fopen(path, "a");
    if (!out) return;
    std::string text = "process\t" + std::to_string(getpid()) + "\n";
    char line[256];
    for (const auto& [name, t] : kernels) {
        std::snprintf(line, sizeof line, "kernel\t%llu\t%llu\t%llu\t", t.count, t.amount, t.ns);
        text += line + name + "\n";
    }
    for (const auto& [key, t] : copies) {
        std::snprintf(line, sizeof line, "copy\t%llu\t%llu\t%llu\t%s\t%s\n", t.count, t.amount, t.ns,
                      key.first.c_str(), key.second.c_str());
        text += line;
    }
    std::snprintf(line, sizeof line, "memset\t%llu\t%llu\t%llu\ndropped\t%zu\nend\n", memsets.count, memsets.amount,
                  memsets.ns, dropped);
    text += line;
    std::fwrite(text.data(), 1, text.size(), out);  // one write: blocks of several processes do not interleave
    std::fclose(out);
}

bool enable(CUpti_ActivityKind kind, const char* what) {
    const CUptiResult status = cuptiActivityEnable(kind);
    if (status == CUPTI_SUCCESS) return true;
    const char* reason = "unknown error";
    cuptiGetResultString(status, &reason);
    std::fprintf(stderr, "lassi-ee workload counter: cannot record %s: %s\n", what, reason);
    return false;
}

}  // namespace

extern "C" int InitializeInjection(void) {
    if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS) {
        std::fprintf(stderr, "lassi-ee workload counter: CUPTI refused its activity buffers\n");
        return 0;
    }
    const bool ok = enable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, "kernels") &&
                    enable(CUPTI_ACTIVITY_KIND_MEMCPY, "memory copies") && enable(CUPTI_ACTIVITY_KIND_MEMSET, "memsets");
    if (ok) std::atexit(report);
    return ok ? 1 : 0;
}
