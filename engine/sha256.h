// SHA-256 (OpenSSL's EVP, which uses the CPU's SHA extensions where present: ~1.5-2 GB/s a core
// instead of ~0.3 for a portable C loop), for dataset manifests and the digests in the run record.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace yardstick {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string hex_digest();   // finishes the hash

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_hex(std::string_view data);
// Reads the file in large chunks. Throws Error naming the file if it can't be read, or if
// *cancel becomes true (checked between chunks).
std::string sha256_file(const std::filesystem::path& path, const std::atomic<bool>* cancel = nullptr);

}  // namespace yardstick
