// The GGUF file format (versions 2 and 3, little-endian), as llama.cpp writes it: a header
// ("GGUF", version, tensor count, metadata count), typed metadata key/value pairs, tensor infos
// (name, dims, ggml type, offset), then the tensors' bytes, each at a multiple of
// general.alignment (default 32) from the start of the aligned data section. Read through mmap;
// every field is validated on open, so the byte ranges it hands out are always in bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/ggml_quants.h"
#include "engine/mmap_file.h"

namespace yardstick {

// gguf_metadata_value_type.
enum class GgufValueType : uint32_t {
  Uint8 = 0,
  Int8 = 1,
  Uint16 = 2,
  Int16 = 3,
  Uint32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  Uint64 = 10,
  Int64 = 11,
  Float64 = 12,
};

std::string_view gguf_value_type_name(GgufValueType t);

// One metadata value. Integers are held widened (unsigned in `uint64_t`, signed in `int64_t`),
// floats as double; `type` keeps the type the file declared.
struct GgufValue {
  GgufValueType type = GgufValueType::Uint8;
  GgufValueType element_type = GgufValueType::Uint8;   // arrays only
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<GgufValue>> value;

  bool is_integer() const;
  bool is_array() const { return type == GgufValueType::Array; }
  // The integer value, if this is an integer that fits; nullopt otherwise.
  std::optional<int64_t> as_int() const;
  std::optional<double> as_number() const;   // integers and floats
  const std::string* as_string() const;      // null unless a string
  const std::vector<GgufValue>* as_array() const;   // null unless an array
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;   // ggml order: dims[0] is the innermost (contiguous) one
  uint32_t type = 0;           // a GgmlType value (kept raw: the file may name one ggml lacks)
  uint64_t offset = 0;         // from the start of the data section
  uint64_t nbytes = 0;         // the tensor's bytes, from its type's block size

  int64_t numel() const;
  // Row-major shape as HF / safetensors write it: dims reversed.
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  // Throws ModelFileError naming the file and the field at fault: a wrong magic or version, a
  // truncated header, an unknown metadata value type, a bad alignment, an unknown tensor type, a
  // tensor whose dims don't fill whole blocks or whose data runs past the end of the file.
  explicit GgufFile(const std::filesystem::path& file);

  const std::filesystem::path& path() const { return map_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }   // file offset of the data section

  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;

  // In file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // The tensor's bytes inside the mapping.
  std::span<const std::byte> tensor_data(const GgufTensorInfo& t) const;

 private:
  MappedFile map_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue, std::less<>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

// The GGUF model `model` names: a .gguf file itself, or the one *.gguf file in a directory that
// has no config.json (a directory with config.json is a Hugging Face model directory). nullopt
// otherwise. Throws ModelFileError for such a directory holding several .gguf files.
std::optional<std::filesystem::path> gguf_model_file(const std::filesystem::path& model);

// ---------------------------------------------------------------- writing (tests, tools)

// A GGUF file to write: metadata in the given order, tensors with their raw (already encoded)
// bytes, laid out at `alignment`. general.alignment is written when alignment is not 32.
struct GgufTensorToWrite {
  std::string name;
  std::vector<int64_t> dims;   // ggml order
  uint32_t type = 0;
  std::vector<std::byte> bytes;
};
struct GgufToWrite {
  uint32_t version = 3;
  uint64_t alignment = 32;
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<GgufTensorToWrite> tensors;
};
// The file's bytes.
std::vector<std::byte> encode_gguf(const GgufToWrite& g);

// Metadata value helpers.
GgufValue gguf_u32(uint32_t v);
GgufValue gguf_i32(int32_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_bool(bool v);
GgufValue gguf_string(std::string v);
GgufValue gguf_array(GgufValueType element_type, std::vector<GgufValue> items);

}  // namespace yardstick
