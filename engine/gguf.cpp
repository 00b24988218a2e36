#include "engine/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.h"

namespace yardstick {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
// Sanity limits: a corrupt count must fail as such, not as an allocation of terabytes.
constexpr uint64_t kMaxDims = 4;   // GGML_MAX_DIMS

// Reads the header section field by field; every read names the field it is for, so a
// truncated or corrupt file fails with "<file>: <field>: ...".
class Reader {
 public:
  Reader(const fs::path& file, std::span<const std::byte> bytes) : file_(file), bytes_(bytes) {}

  size_t pos() const { return pos_; }

  [[noreturn]] void fail(std::string_view field, std::string_view what) const {
    throw ModelFileError(fmt::format("{}: {}: {}", file_.string(), field, what));
  }

  const std::byte* take(size_t n, std::string_view field) {
    if (n > bytes_.size() - pos_) {
      fail(field, fmt::format("truncated: needs {} bytes at offset {}, but the file ends at {}", n, pos_,
                              bytes_.size()));
    }
    const std::byte* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  template <typename T>
  T get(std::string_view field) {
    T v;
    std::memcpy(&v, take(sizeof(T), field), sizeof(T));
    return v;
  }

  std::string string(std::string_view field) {
    const uint64_t n = get<uint64_t>(field);
    if (n > bytes_.size() - pos_) {
      fail(field, fmt::format("truncated: a string of {} bytes at offset {}, but the file ends at {}", n, pos_,
                              bytes_.size()));
    }
    const std::byte* p = take(size_t(n), field);
    return std::string(reinterpret_cast<const char*>(p), size_t(n));
  }

  // An element count whose elements need at least min_bytes each: more than the rest of the
  // file can hold is a corrupt (or truncated) count.
  uint64_t count(std::string_view field, size_t min_bytes) {
    const uint64_t n = get<uint64_t>(field);
    if (min_bytes > 0 && n > (bytes_.size() - pos_) / min_bytes) {
      fail(field, fmt::format("truncated: a count of {} at offset {} needs at least {} bytes, but {} remain", n,
                              pos_ - 8, n > std::numeric_limits<uint64_t>::max() / min_bytes ? 0 : n * min_bytes,
                              bytes_.size() - pos_));
    }
    return n;
  }

 private:
  const fs::path& file_;
  std::span<const std::byte> bytes_;
  size_t pos_ = 0;
};

bool known_value_type(uint32_t t) { return t <= uint32_t(GgufValueType::Float64); }

// The fewest bytes a value of type t occupies (for bounding counts before allocating).
size_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::Uint8: case GgufValueType::Int8: case GgufValueType::Bool: return 1;
    case GgufValueType::Uint16: case GgufValueType::Int16: return 2;
    case GgufValueType::Uint32: case GgufValueType::Int32: case GgufValueType::Float32: return 4;
    case GgufValueType::Uint64: case GgufValueType::Int64: case GgufValueType::Float64: return 8;
    case GgufValueType::String: return 8;
    case GgufValueType::Array: return 12;
  }
  return 1;
}

GgufValue read_value(Reader& r, GgufValueType type, const std::string& field, int depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::Uint8: v.value = uint64_t(r.get<uint8_t>(field)); break;
    case GgufValueType::Int8: v.value = int64_t(r.get<int8_t>(field)); break;
    case GgufValueType::Uint16: v.value = uint64_t(r.get<uint16_t>(field)); break;
    case GgufValueType::Int16: v.value = int64_t(r.get<int16_t>(field)); break;
    case GgufValueType::Uint32: v.value = uint64_t(r.get<uint32_t>(field)); break;
    case GgufValueType::Int32: v.value = int64_t(r.get<int32_t>(field)); break;
    case GgufValueType::Uint64: v.value = r.get<uint64_t>(field); break;
    case GgufValueType::Int64: v.value = r.get<int64_t>(field); break;
    case GgufValueType::Float32: v.value = double(r.get<float>(field)); break;
    case GgufValueType::Float64: v.value = r.get<double>(field); break;
    case GgufValueType::Bool: {
      const uint8_t b = r.get<uint8_t>(field);
      if (b > 1) r.fail(field, fmt::format("a bool must be 0 or 1, got {}", b));
      v.value = b == 1;
      break;
    }
    case GgufValueType::String: v.value = r.string(field); break;
    case GgufValueType::Array: {
      if (depth > 8) r.fail(field, "arrays nested more than 8 deep");
      const uint32_t et = r.get<uint32_t>(field + " (array element type)");
      if (!known_value_type(et)) r.fail(field, fmt::format("unknown array element type {}", et));
      v.element_type = GgufValueType(et);
      const uint64_t n = r.count(field + " (array length)", min_value_bytes(v.element_type));
      std::vector<GgufValue> items;
      items.reserve(size_t(n));
      for (uint64_t i = 0; i < n; ++i)
        items.push_back(read_value(r, v.element_type, fmt::format("{}[{}]", field, i), depth + 1));
      v.value = std::move(items);
      break;
    }
  }
  return v;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::Uint8: return "uint8";
    case GgufValueType::Int8: return "int8";
    case GgufValueType::Uint16: return "uint16";
    case GgufValueType::Int16: return "int16";
    case GgufValueType::Uint32: return "uint32";
    case GgufValueType::Int32: return "int32";
    case GgufValueType::Float32: return "float32";
    case GgufValueType::Bool: return "bool";
    case GgufValueType::String: return "string";
    case GgufValueType::Array: return "array";
    case GgufValueType::Uint64: return "uint64";
    case GgufValueType::Int64: return "int64";
    case GgufValueType::Float64: return "float64";
  }
  return "?";
}

bool GgufValue::is_integer() const {
  return std::holds_alternative<uint64_t>(value) || std::holds_alternative<int64_t>(value);
}

std::optional<int64_t> GgufValue::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&value)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return int64_t(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  return std::nullopt;
}

std::optional<double> GgufValue::as_number() const {
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&value)) return double(*u);
  if (const auto* i = std::get_if<int64_t>(&value)) return double(*i);
  return std::nullopt;
}

const std::string* GgufValue::as_string() const { return std::get_if<std::string>(&value); }

const std::vector<GgufValue>* GgufValue::as_array() const { return std::get_if<std::vector<GgufValue>>(&value); }

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {dims.rbegin(), dims.rend()}; }

GgufFile::GgufFile(const fs::path& file) : map_(file) {
  Reader r(file, map_.bytes());
  const std::byte* magic = r.take(4, "magic");
  if (std::memcmp(magic, kMagic, 4) != 0) {
    std::string got(reinterpret_cast<const char*>(magic), 4);
    for (char& c : got)
      if (c < 0x20 || c > 0x7e) c = '?';
    r.fail("magic", fmt::format("not a GGUF file (starts with '{}', expected 'GGUF')", got));
  }
  version_ = r.get<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    r.fail("version", version_ == 1 ? std::string("GGUF version 1 is not supported (only 2 and 3)")
                      : (version_ & 0xFFFF) == 0 ? fmt::format("version {:#x}: a big-endian GGUF? (only little-endian "
                                                               "versions 2 and 3 are supported)", version_)
                                                 : fmt::format("unsupported GGUF version {} (only 2 and 3)", version_));
  }
  // Not bounded by the bytes left: nothing is allocated by these counts, and a file cut short
  // fails in the entry it ends in, which names the field better than "a bad count" would.
  const uint64_t n_tensors = r.get<uint64_t>("tensor_count");
  const uint64_t n_kv = r.get<uint64_t>("metadata_kv_count");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.string(fmt::format("metadata entry {} (key)", i));
    const uint32_t type = r.get<uint32_t>(fmt::format("metadata '{}' (value type)", key));
    if (!known_value_type(type))
      r.fail(fmt::format("metadata '{}'", key), fmt::format("unknown value type {}", type));
    GgufValue v = read_value(r, GgufValueType(type), fmt::format("metadata '{}'", key), 0);
    if (metadata_.contains(key)) r.fail(fmt::format("metadata '{}'", key), "the key appears twice");
    metadata_.emplace(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    const std::optional<int64_t> n = a->as_int();
    if (!n || *n <= 0 || (*n & (*n - 1)) != 0 || *n > (1 << 30))
      r.fail("metadata 'general.alignment'", "must be a power of two");
    alignment_ = uint64_t(*n);
  }

  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = r.string(fmt::format("tensor info {} (name)", i));
    const std::string field = fmt::format("tensor '{}'", t.name);
    const uint32_t n_dims = r.get<uint32_t>(field + " (n_dims)");
    if (n_dims == 0 || n_dims > kMaxDims) r.fail(field, fmt::format("{} dimensions (1 to {} allowed)", n_dims, kMaxDims));
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t n = r.get<uint64_t>(field + " (dims)");
      if (n == 0 || n > uint64_t(std::numeric_limits<int64_t>::max()) ||
          numel > uint64_t(std::numeric_limits<int64_t>::max()) / n)
        r.fail(field, fmt::format("bad dimension {}", n));
      numel *= n;
      t.dims.push_back(int64_t(n));
    }
    t.type = r.get<uint32_t>(field + " (type)");
    t.offset = r.get<uint64_t>(field + " (offset)");
    const std::optional<GgmlBlock> block = ggml_block(t.type);
    if (!block) r.fail(field, fmt::format("unknown ggml type {}", t.type));
    if (t.dims[0] % block->elements != 0) {
      r.fail(field, fmt::format("its rows of {} elements are not whole {} blocks of {}", t.dims[0],
                                ggml_type_name(t.type), block->elements));
    }
    t.nbytes = numel / uint64_t(block->elements) * block->bytes;
    if (t.offset % alignment_ != 0)
      r.fail(field, fmt::format("offset {} is not a multiple of the alignment {}", t.offset, alignment_));
    if (by_name_.contains(t.name)) r.fail(field, "the name appears twice");
    by_name_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  data_offset_ = align_up(r.pos(), alignment_);
  const uint64_t size = map_.size();
  for (const GgufTensorInfo& t : tensors_) {
    if (data_offset_ > size || t.offset > size - data_offset_ || t.nbytes > size - data_offset_ - t.offset) {
      r.fail(fmt::format("tensor '{}'", t.name),
             fmt::format("its data (bytes {} to {} of the file) runs past the end of the file ({} bytes)",
                         data_offset_ + t.offset, data_offset_ + t.offset + t.nbytes, size));
    }
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> GgufFile::tensor_data(const GgufTensorInfo& t) const {
  return map_.bytes().subspan(size_t(data_offset_ + t.offset), size_t(t.nbytes));
}

std::optional<fs::path> gguf_model_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    if (path.extension() == ".gguf") return path;
    return std::nullopt;
  }
  if (fs::exists(path / "config.json", ec)) return std::nullopt;
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.path().extension() == ".gguf" && e.is_regular_file()) found.push_back(e.path());
  if (ec) throw ModelFileError(fmt::format("{}: cannot list the directory: {}", path.string(), ec.message()));
  if (found.empty()) return std::nullopt;
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    std::vector<std::string> names;
    for (const auto& f : found) names.push_back(f.filename().string());
    throw ModelFileError(fmt::format("{}: holds several GGUF files ({}); name the one to use",
                                     path.string(), fmt::join(names, ", ")));
  }
  return found[0];
}

// ---------------------------------------------------------------- writing

namespace {

class Writer {
 public:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
  }
  void string(std::string_view s) {
    put<uint64_t>(s.size());
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out.insert(out.end(), p, p + s.size());
  }
  void pad_to(uint64_t alignment) { out.resize(size_t(align_up(out.size(), alignment))); }

  void value(const GgufValue& v) {
    switch (v.type) {
      case GgufValueType::Uint8: put<uint8_t>(uint8_t(std::get<uint64_t>(v.value))); break;
      case GgufValueType::Int8: put<int8_t>(int8_t(std::get<int64_t>(v.value))); break;
      case GgufValueType::Uint16: put<uint16_t>(uint16_t(std::get<uint64_t>(v.value))); break;
      case GgufValueType::Int16: put<int16_t>(int16_t(std::get<int64_t>(v.value))); break;
      case GgufValueType::Uint32: put<uint32_t>(uint32_t(std::get<uint64_t>(v.value))); break;
      case GgufValueType::Int32: put<int32_t>(int32_t(std::get<int64_t>(v.value))); break;
      case GgufValueType::Uint64: put<uint64_t>(std::get<uint64_t>(v.value)); break;
      case GgufValueType::Int64: put<int64_t>(std::get<int64_t>(v.value)); break;
      case GgufValueType::Float32: put<float>(float(std::get<double>(v.value))); break;
      case GgufValueType::Float64: put<double>(std::get<double>(v.value)); break;
      case GgufValueType::Bool: put<uint8_t>(std::get<bool>(v.value) ? 1 : 0); break;
      case GgufValueType::String: string(std::get<std::string>(v.value)); break;
      case GgufValueType::Array: {
        const auto& items = std::get<std::vector<GgufValue>>(v.value);
        put<uint32_t>(uint32_t(v.element_type));
        put<uint64_t>(items.size());
        for (const GgufValue& item : items) value(item);
        break;
      }
    }
  }

  std::vector<std::byte> out;
};

}  // namespace

std::vector<std::byte> encode_gguf(const GgufToWrite& g) {
  Writer w;
  w.out.insert(w.out.end(), reinterpret_cast<const std::byte*>(kMagic), reinterpret_cast<const std::byte*>(kMagic) + 4);
  w.put<uint32_t>(g.version);
  w.put<uint64_t>(g.tensors.size());
  const bool write_alignment = g.alignment != 32;
  w.put<uint64_t>(g.metadata.size() + (write_alignment ? 1 : 0));
  if (write_alignment) {
    w.string("general.alignment");
    w.put<uint32_t>(uint32_t(GgufValueType::Uint32));
    w.put<uint32_t>(uint32_t(g.alignment));
  }
  for (const auto& [key, v] : g.metadata) {
    w.string(key);
    w.put<uint32_t>(uint32_t(v.type));
    w.value(v);
  }
  uint64_t offset = 0;
  for (const GgufTensorToWrite& t : g.tensors) {
    w.string(t.name);
    w.put<uint32_t>(uint32_t(t.dims.size()));
    for (int64_t d : t.dims) w.put<uint64_t>(uint64_t(d));
    w.put<uint32_t>(t.type);
    w.put<uint64_t>(offset);
    offset = align_up(offset + t.bytes.size(), g.alignment);
  }
  w.pad_to(g.alignment);
  for (const GgufTensorToWrite& t : g.tensors) {
    w.out.insert(w.out.end(), t.bytes.begin(), t.bytes.end());
    w.pad_to(g.alignment);
  }
  return std::move(w.out);
}

GgufValue gguf_u32(uint32_t v) { return {GgufValueType::Uint32, GgufValueType::Uint8, uint64_t(v)}; }
GgufValue gguf_i32(int32_t v) { return {GgufValueType::Int32, GgufValueType::Uint8, int64_t(v)}; }
GgufValue gguf_f32(float v) { return {GgufValueType::Float32, GgufValueType::Uint8, double(v)}; }
GgufValue gguf_bool(bool v) { return {GgufValueType::Bool, GgufValueType::Uint8, v}; }
GgufValue gguf_string(std::string v) { return {GgufValueType::String, GgufValueType::Uint8, std::move(v)}; }
GgufValue gguf_array(GgufValueType element_type, std::vector<GgufValue> items) {
  return {GgufValueType::Array, element_type, std::move(items)};
}

}  // namespace yardstick
