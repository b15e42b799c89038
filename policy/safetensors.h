// safetensors files (the Hugging Face tensor format), float32 only.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON header
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [...],
//    "data_offsets": [begin, end]}, ...}
// then the data buffer; offsets are relative to the buffer's start.
//
// Writing: tensors are stored in the given order, contiguous, the header padded
// with spaces so the buffer starts 8-byte aligned; the file is replaced
// atomically (policy/atomic_file.h).
//
// Reading validates the whole header before trusting it, as the reference
// implementation does: the header fits the file and is a JSON object, every
// dtype is F32 (anything else is an error naming the tensor and dtype), each
// shape's byte size equals its offsets' span, and the tensors tile the data
// buffer exactly — no overlap, no hole, nothing past the end, no trailing bytes.
// Every error names the file (and the tensor, where one is at fault).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ponder {

// A tensor to write; `data` holds product(shape) floats and must outlive the call.
struct TensorView {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;
};

// A tensor read back, owning its values.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major, product(shape) elements
};

// The bytes of a safetensors file holding `tensors` (names unique, not
// "__metadata__"). Throws ponder::Error for a bad name or shape.
std::string encode_safetensors(const std::vector<TensorView>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

// Writes encode_safetensors(...) to `path` atomically.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

class SafetensorsFile {
 public:
  std::map<std::string, std::string> metadata;
  std::vector<std::string> names;  // in file (data offset) order

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws ponder::Error naming the file and the tensor when it is absent.
  const HostTensor& get(const std::string& name) const;

 private:
  friend SafetensorsFile read_safetensors(const std::filesystem::path& path);
  std::filesystem::path path_;
  std::map<std::string, HostTensor> tensors_;
};

// Reads and validates a whole file. Throws ponder::Error naming the file (and
// the tensor) and what is wrong: missing, truncated, bad header, unsupported
// dtype, shape/offset mismatch, overlapping or out-of-range offsets.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

}  // namespace ponder
