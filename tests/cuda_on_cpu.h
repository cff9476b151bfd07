// Runs a CUDA C kernel's source on the CPU, one OS thread per lane of a warp, for tests on machines
// without a GPU. It emulates what raydeval's counting kernel uses: uint4, __popc, warp-synchronous
// __shfl_down_sync over the full warp (all 32 lanes wait for each other, as on the device) and
// 64-bit atomicAdd. It checks the kernel's arithmetic, indexing and reduction, not the hardware:
// warps run one after another, so it cannot show a missing atomic or a memory-ordering bug.
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#define __global__

struct uint4 { unsigned int x, y, z, w; };
struct dim3 { unsigned int x = 1, y = 1, z = 1; };

static dim3 gridDim, blockDim;
static thread_local dim3 blockIdx, threadIdx;

struct Warp {
    std::barrier<> sync{32};
    unsigned int lanes[32];
};
static thread_local Warp* warp_of_thread;

static inline int __popc(unsigned int v) { return __builtin_popcount(v); }

static inline unsigned int __shfl_down_sync(unsigned int mask, unsigned int value, unsigned int delta) {
    if (mask != 0xffffffffu) std::abort();  // only full-warp shuffles are emulated
    const unsigned int lane = threadIdx.x & 31;
    warp_of_thread->lanes[lane] = value;
    warp_of_thread->sync.arrive_and_wait();
    const unsigned int out = lane + delta < 32 ? warp_of_thread->lanes[lane + delta] : value;
    warp_of_thread->sync.arrive_and_wait();
    return out;
}

static inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
    return std::atomic_ref<unsigned long long>(*address).fetch_add(value);
}

// kernel<<<grid, block>>>(): one warp at a time, its 32 lanes as 32 threads, through every warp of
// every block (the kernel has no shared memory or __syncthreads: warps are independent).
template <class Kernel>
void launch(dim3 grid, dim3 block, Kernel kernel) {
    gridDim = grid;
    blockDim = block;
    Warp warp;
    std::vector<std::thread> lanes;
    for (unsigned int lane = 0; lane < 32; ++lane) {
        lanes.emplace_back([&, lane] {
            warp_of_thread = &warp;
            for (unsigned int by = 0; by < grid.y; ++by)
                for (unsigned int bx = 0; bx < grid.x; ++bx)
                    for (unsigned int first_thread = 0; first_thread < block.x; first_thread += 32) {
                        blockIdx = dim3{bx, by, 0};
                        threadIdx = dim3{first_thread + lane, 0, 0};
                        kernel();
                    }
        });
    }
    for (auto& lane : lanes) lane.join();
}
