#include "engine/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace yardstick {

namespace {

using json = nlohmann::json;

// The official reader refuses headers above 100 MB; a larger one is a corrupt length field.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

std::optional<DType> parse_dtype(std::string_view s) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  return std::nullopt;
}

bool is_known_safetensors_dtype(std::string_view s) {
  static constexpr std::array known = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3",
                                       "I16",  "U16", "F16", "BF16",    "I32",
                                       "U32",  "F32", "F64", "I64",     "U64"};
  return std::find(known.begin(), known.end(), s) != known.end();
}

[[noreturn]] void fail(const std::filesystem::path& file, std::string_view what) {
  throw ModelFileError(fmt::format("{}: {}", file.string(), what));
}

[[noreturn]] void fail_tensor(const std::filesystem::path& file, std::string_view tensor,
                              std::string_view what) {
  throw ModelFileError(fmt::format("{}: tensor '{}': {}", file.string(), tensor, what));
}

struct HeaderEntry {
  TensorView view;
  uint64_t begin = 0, end = 0;  // byte range inside the data section
};

HeaderEntry parse_entry(const std::filesystem::path& file, const std::string& name, const json& v) {
  if (!v.is_object()) fail_tensor(file, name, "header entry is not a JSON object");
  HeaderEntry e;
  e.view.name = name;

  auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string())
    fail_tensor(file, name, "header entry has no dtype string");
  const std::string dtype = dt->get<std::string>();
  auto parsed = parse_dtype(dtype);
  if (!parsed) {
    fail_tensor(file, name,
                is_known_safetensors_dtype(dtype)
                    ? fmt::format("unsupported dtype {} (supported: F32, F16, BF16)", dtype)
                    : fmt::format("unknown dtype '{}'", dtype));
  }
  e.view.dtype = *parsed;

  auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) fail_tensor(file, name, "header entry has no shape array");
  uint64_t numel = 1;
  for (const json& d : *sh) {
    if (!d.is_number_unsigned()) fail_tensor(file, name, fmt::format("bad shape {}", sh->dump()));
    const uint64_t n = d.get<uint64_t>();
    if (n > uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, n, &numel)) {
      fail_tensor(file, name, fmt::format("shape {} overflows", sh->dump()));
    }
    e.view.shape.push_back(int64_t(n));
  }

  auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned()) {
    fail_tensor(file, name, "header entry has no data_offsets [begin, end]");
  }
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.end < e.begin) {
    fail_tensor(file, name,
                fmt::format("bad data_offsets [{}, {}]: end before begin", e.begin, e.end));
  }
  uint64_t need = 0;
  if (__builtin_mul_overflow(numel, uint64_t(dtype_size(e.view.dtype)), &need) ||
      need != e.end - e.begin) {
    fail_tensor(file, name,
                fmt::format("data_offsets [{}, {}] hold {} bytes but dtype {} and shape {} need {}",
                            e.begin, e.end, e.end - e.begin, dtype, sh->dump(),
                            numel * dtype_size(e.view.dtype)));
  }
  e.view.nbytes = size_t(need);
  return e;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& file) : map_(file) {
  const std::span<const std::byte> bytes = map_.bytes();
  if (bytes.size() < 8) {
    fail(file,
         fmt::format("too short for a safetensors file ({} bytes; truncated?)", bytes.size()));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | uint64_t(bytes[size_t(i)]);
  if (header_len > kMaxHeaderBytes) {
    fail(file, fmt::format("corrupt header: header length {} is implausible", header_len));
  }
  if (header_len > bytes.size() - 8) {
    fail(file, fmt::format("header length {} exceeds the file size {} (truncated?)", header_len,
                           bytes.size()));
  }
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  json header;
  try {
    header = json::parse(header_text);
  } catch (const json::parse_error& e) {
    fail(file, fmt::format("corrupt header: {}", e.what()));
  }
  if (!header.is_object()) fail(file, "corrupt header: not a JSON object");

  const std::byte* data = bytes.data() + 8 + header_len;
  const uint64_t data_size = bytes.size() - 8 - header_len;
  std::vector<HeaderEntry> entries;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail(file, "corrupt header: __metadata__ is not an object");
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string())
          fail(file, fmt::format("corrupt header: __metadata__ '{}' is not a string", k));
        metadata_[k] = s.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(file, name, v));
  }

  // Like the official reader: tensors tile the data section exactly, with no gap or overlap.
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  uint64_t expected = 0;
  for (HeaderEntry& e : entries) {
    if (e.end > data_size) {
      fail_tensor(file, e.view.name,
                  fmt::format("data ends at byte {} of the data section but the file holds only {} "
                              "(truncated?)",
                              e.end, data_size));
    }
    if (e.begin != expected) {
      fail_tensor(file, e.view.name,
                  fmt::format("bad data_offsets [{}, {}]: expected it to start at {} ({})", e.begin,
                              e.end, expected, e.begin < expected ? "overlap" : "gap"));
    }
    expected = e.end;
    e.view.data = data + e.begin;
    tensors_.push_back(std::move(e.view));
  }
  if (expected != data_size) {
    fail(file, fmt::format("{} bytes after the last tensor's data are not described by the header",
                           data_size - expected));
  }
}

void write_safetensors(const std::filesystem::path& file, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string, std::less<>> seen;
  for (const TensorToWrite& t : tensors) {
    if (t.name == "__metadata__" || !seen.insert(t.name).second) {
      throw Error(fmt::format("{}: cannot write tensor '{}': duplicate or reserved name",
                              file.string(), t.name));
    }
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0)
        throw Error(fmt::format("{}: tensor '{}' has a negative dimension", file.string(), t.name));
      numel *= uint64_t(d);
    }
    if (numel * dtype_size(t.dtype) != t.bytes.size()) {
      throw Error(fmt::format("{}: tensor '{}' has {} bytes but {} {} needs {}", file.string(),
                              t.name, t.bytes.size(), dtype_name(t.dtype), fmt::join(t.shape, "x"),
                              numel * dtype_size(t.dtype)));
    }
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data section 8-byte aligned

  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp = file;
  tmp += fmt::format(".tmp-{}-{}", ::getpid(), counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("{}: cannot create: {}", tmp.string(), std::strerror(errno)));
    std::array<char, 8> len{};
    for (int i = 0; i < 8; ++i) len[size_t(i)] = char(uint64_t(text.size()) >> (8 * i) & 0xff);
    out.write(len.data(), len.size());
    out.write(text.data(), std::streamsize(text.size()));
    for (const TensorToWrite& t : tensors) {
      out.write(reinterpret_cast<const char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
    }
    out.close();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw Error(fmt::format("{}: write failed", tmp.string()));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error(fmt::format("{}: cannot move the written file into place: {}", file.string(),
                            ec.message()));
  }
}

}  // namespace yardstick
