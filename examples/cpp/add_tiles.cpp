// Drive the simulator from C++: out = a + b over a [256, 512] float32 HBM tensor, in 128-row
// tiles, with the same instructions a kernel would issue (dma_copy, tensor_tensor, dma_copy).
#include <cmath>
#include <cstdio>
#include <vector>

#include <nkisim/nkisim.hpp>

using namespace nkisim;

int main() {
  Interpreter core(Target::from_env());
  const int64_t rows = 256, cols = 512;
  std::vector<float> a(rows * cols), b(rows * cols), out(rows * cols, 0.f);
  for (int64_t i = 0; i < rows * cols; ++i) {
    a[i] = 0.5f * static_cast<float>(i % 97);
    b[i] = 1.0f - static_cast<float>(i % 13);
  }
  // Wrap host buffers as HBM tensors (no copies).
  auto hbm = [&](std::vector<float>& v, const char* name) {
    return Tensor(wrap_hbm(Buffer::shared_hbm, v.data(), v.size() * 4, false, nullptr, name),
                  DType::float32, {rows, cols});
  };
  Tensor A = hbm(a, "a"), B = hbm(b, "b"), O = hbm(out, "out");

  for (int64_t r = 0; r < rows; r += 128) {
    const std::vector<IndexItem> tile{{IndexItem::slice, r, r + 128, 1}, {IndexItem::all}};
    Tensor x = core.allocate(Buffer::sbuf, {128, cols}, DType::float32, "x");
    Tensor y = core.allocate(Buffer::sbuf, {128, cols}, DType::float32, "y");
    DmaCopyOp load_a{{}, x, A.index(tile)};
    DmaCopyOp load_b{{}, y, B.index(tile)};
    core.run(load_a);
    core.run(load_b);
    TensorTensorOp add{{}, x, x, y, AluOp::add};
    core.run(add);
    DmaCopyOp store{{}, O.index(tile), x};
    core.run(store);
  }

  double max_err = 0;
  for (int64_t i = 0; i < rows * cols; ++i) max_err = std::fmax(max_err, std::fabs(out[i] - (a[i] + b[i])));
  std::printf("add_tiles: %llu instructions on %s, max error %g\n",
              static_cast<unsigned long long>(core.instruction_count()),
              std::string(core.target().name).c_str(), max_err);

  // Mistakes raise typed errors with clear messages.
  try {
    Tensor bad = core.allocate(Buffer::sbuf, {64, cols}, DType::float32, "bad");
    TensorTensorOp mismatch{{}, bad, bad, core.allocate(Buffer::sbuf, {128, cols}, DType::float32, "z"), AluOp::add};
    core.run(mismatch);
  } catch (const ValidationError& e) {
    std::printf("caught as expected: %s\n", e.what());
  }
  return max_err == 0 ? 0 : 1;
}
