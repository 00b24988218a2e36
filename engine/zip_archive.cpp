#include "engine/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "engine/error.h"

namespace yardstick {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22, kZip64LocatorSize = 20, kZip64EndSize = 56;
constexpr size_t kCentralHeaderSize = 46, kLocalHeaderSize = 30;

// Little-endian reads with bounds checks; every offset in a zip file is untrusted.
class Reader {
 public:
  Reader(std::span<const std::byte> bytes, const std::filesystem::path& path)
      : b_(bytes), path_(path) {}

  uint64_t le(uint64_t at, int n, std::string_view what) const {
    need(at, uint64_t(n), what);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | uint64_t(b_[size_t(at) + size_t(i)]);
    return v;
  }
  uint16_t u16(uint64_t at, std::string_view what) const { return uint16_t(le(at, 2, what)); }
  uint32_t u32(uint64_t at, std::string_view what) const { return uint32_t(le(at, 4, what)); }
  uint64_t u64(uint64_t at, std::string_view what) const { return le(at, 8, what); }
  std::string_view str(uint64_t at, uint64_t n, std::string_view what) const {
    need(at, n, what);
    return {reinterpret_cast<const char*>(b_.data() + at), size_t(n)};
  }
  void need(uint64_t at, uint64_t n, std::string_view what) const {
    if (at > b_.size() || n > b_.size() - at) {
      throw ModelFileError(
          fmt::format("{}: {} runs past the end of the file (truncated?)", path_.string(), what));
    }
  }

 private:
  std::span<const std::byte> b_;
  const std::filesystem::path& path_;
};

}  // namespace

ZipArchive::ZipArchive(std::span<const std::byte> bytes, std::filesystem::path path)
    : bytes_(bytes), path_(std::move(path)) {
  const Reader r(bytes_, path_);
  auto corrupt = [&](std::string_view what) {
    return ModelFileError(fmt::format("{}: corrupt zip archive: {}", path_.string(), what));
  };

  // The end-of-central-directory record sits at the end, after an optional comment.
  if (bytes_.size() < kEndSize) {
    throw ModelFileError(fmt::format("{}: too short for a zip archive ({} bytes; truncated?)",
                                     path_.string(), bytes_.size()));
  }
  uint64_t end = UINT64_MAX;
  const uint64_t last = bytes_.size() - kEndSize;
  const uint64_t first = last > 0xffff ? last - 0xffff : 0;
  for (uint64_t at = last + 1; at-- > first;) {
    if (r.u32(at, "end record") == kEndSig &&
        at + kEndSize + r.u16(at + 20, "end record") == bytes_.size()) {
      end = at;
      break;
    }
  }
  if (end == UINT64_MAX) {
    throw ModelFileError(
        fmt::format("{}: not a zip archive, or truncated (no end of central directory "
                    "record)",
                    path_.string()));
  }
  uint64_t count = r.u16(end + 10, "end record");
  uint64_t cd_size = r.u32(end + 12, "end record");
  uint64_t cd_offset = r.u32(end + 16, "end record");
  if (end >= kZip64LocatorSize &&
      r.u32(end - kZip64LocatorSize, "zip64 locator") == kZip64LocatorSig) {
    const uint64_t z = r.u64(end - kZip64LocatorSize + 8, "zip64 locator");
    if (r.u32(z, "zip64 end record") != kZip64EndSig)
      throw corrupt("bad zip64 end of central directory");
    r.need(z, kZip64EndSize, "zip64 end record");
    count = r.u64(z + 32, "zip64 end record");
    cd_size = r.u64(z + 40, "zip64 end record");
    cd_offset = r.u64(z + 48, "zip64 end record");
  }
  r.need(cd_offset, cd_size, "central directory");
  if (count > cd_size / kCentralHeaderSize)
    throw corrupt(fmt::format("{} entries can't fit the central directory", count));

  uint64_t at = cd_offset;
  entries_.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    if (r.u32(at, "central directory") != kCentralHeaderSig) {
      throw corrupt(fmt::format("central directory entry {} has a bad signature", i));
    }
    ZipEntry e;
    const uint16_t flags = r.u16(at + 8, "central directory");
    e.method = r.u16(at + 10, "central directory");
    e.crc32 = r.u32(at + 16, "central directory");
    e.compressed_size = r.u32(at + 20, "central directory");
    e.size = r.u32(at + 24, "central directory");
    const uint16_t name_len = r.u16(at + 28, "central directory");
    const uint16_t extra_len = r.u16(at + 30, "central directory");
    const uint16_t comment_len = r.u16(at + 32, "central directory");
    uint64_t local = r.u32(at + 42, "central directory");
    e.name = std::string(r.str(at + kCentralHeaderSize, name_len, "central directory"));

    // zip64: each 32-bit field that reads 0xffffffff is in the 0x0001 extra field, in this order.
    uint64_t x = at + kCentralHeaderSize + name_len;
    const uint64_t x_end = x + extra_len;
    r.need(x, extra_len, "central directory");
    while (x + 4 <= x_end) {
      const uint16_t id = r.u16(x, "extra field"), len = r.u16(x + 2, "extra field");
      if (x + 4 + len > x_end)
        throw corrupt(fmt::format("entry '{}' has a bad extra field", e.name));
      if (id == 0x0001) {
        uint64_t p = x + 4;
        for (uint64_t* field : {&e.size, &e.compressed_size, &local}) {
          if (*field != UINT32_MAX) continue;
          if (p + 8 > x + 4 + len)
            throw corrupt(fmt::format("entry '{}' has a short zip64 field", e.name));
          *field = r.u64(p, "extra field");
          p += 8;
        }
      }
      x += 4 + len;
    }
    at = x_end + comment_len;

    if (flags & 0x1) throw corrupt(fmt::format("entry '{}' is encrypted", e.name));
    if (e.method != 0 && e.method != 8) {
      throw ModelFileError(
          fmt::format("{}: entry '{}' uses compression method {} (only stored and "
                      "deflated are supported)",
                      path_.string(), e.name, e.method));
    }
    if (e.method == 0 && e.compressed_size != e.size) {
      throw corrupt(
          fmt::format("stored entry '{}' has sizes {} and {}", e.name, e.compressed_size, e.size));
    }
    const std::string where = fmt::format("entry '{}'", e.name);
    if (r.u32(local, where) != kLocalHeaderSig) {
      throw corrupt(fmt::format("entry '{}' has no local header at offset {}", e.name, local));
    }
    const uint16_t local_name_len = r.u16(local + 26, where);
    const uint16_t local_extra_len = r.u16(local + 28, where);
    if (r.str(local + kLocalHeaderSize, local_name_len, where) != e.name) {
      throw corrupt(fmt::format("entry '{}' has a different name in its local header", e.name));
    }
    e.data_offset = local + kLocalHeaderSize + local_name_len + local_extra_len;
    r.need(e.data_offset, e.compressed_size, where + " data");
    if (!by_name_.emplace(e.name, entries_.size()).second) {
      throw corrupt(fmt::format("entry '{}' appears twice", e.name));
    }
    entries_.push_back(std::move(e));
  }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::span<const std::byte> ZipArchive::data(const ZipEntry& e) const {
  const std::span<const std::byte> raw =
      bytes_.subspan(size_t(e.data_offset), size_t(e.compressed_size));
  if (e.method == 0) return raw;

  const size_t index = size_t(&e - entries_.data());
  if (auto it = inflated_.find(index); it != inflated_.end()) return *it->second;
  auto out = std::make_unique<std::vector<std::byte>>(size_t(e.size));
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {  // raw deflate: zip has no zlib header
    throw ModelFileError(fmt::format("{}: entry '{}': cannot start zlib", path_.string(), e.name));
  }
  // zlib counts in uInt; feed and drain in chunks so entries over 4 GB work.
  const uint64_t chunk = UINT_MAX;
  uint64_t in_done = 0, out_done = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(raw.data() + in_done));
    zs.avail_in = uInt(std::min(chunk, raw.size() - in_done));
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + out_done);
    zs.avail_out = uInt(std::min(chunk, out->size() - out_done));
    const uInt in_before = zs.avail_in, out_before = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    in_done += in_before - zs.avail_in;
    out_done += out_before - zs.avail_out;
    if (rc == Z_OK && in_before == zs.avail_in && out_before == zs.avail_out) rc = Z_BUF_ERROR;
  }
  const std::string msg = zs.msg ? zs.msg : "ends early";
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || out_done != e.size) {
    throw ModelFileError(fmt::format("{}: entry '{}': corrupt deflate data ({}, {} of {} bytes)",
                                     path_.string(), e.name, msg, out_done, e.size));
  }
  return *inflated_.emplace(index, std::move(out)).first->second;
}

void ZipArchive::check_crc(const ZipEntry& e) const {
  const std::span<const std::byte> d = data(e);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t done = 0; done < d.size();) {  // crc32 takes uInt lengths
    const size_t n = std::min<size_t>(d.size() - done, UINT_MAX);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(d.data() + done), uInt(n));
    done += n;
  }
  if (uint32_t(crc) != e.crc32) {
    throw ModelFileError(fmt::format("{}: entry '{}' is corrupt (CRC-32 {:08x}, expected {:08x})",
                                     path_.string(), e.name, uint32_t(crc), e.crc32));
  }
}

}  // namespace yardstick
