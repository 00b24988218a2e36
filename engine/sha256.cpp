#include "engine/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/core.h>
#include <openssl/evp.h>

#include "engine/error.h"

namespace yardstick {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  Ctx() : md(EVP_MD_CTX_new()) {
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(md);
      throw Error("sha256: OpenSSL could not set up a SHA-256 context");
    }
  }
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t n) {
  if (n > 0 && EVP_DigestUpdate(ctx_->md, data, n) != 1) throw Error("sha256: OpenSSL update failed");
}

std::string Sha256::hex_digest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, out, &len) != 1) throw Error("sha256: OpenSSL final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(size_t(len) * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 15];
  }
  return hex;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

std::string sha256_file(const std::filesystem::path& path, const std::atomic<bool>* cancel) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("{}: cannot open for reading: {}", path.string(), std::strerror(errno)));
  // Sequential: the kernel reads ahead more aggressively, so the disk stays busy while we hash.
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Sha256 h;
  std::vector<char> buf(size_t{8} << 20);   // large reads: few syscalls, long sequential requests
  for (;;) {
    if (cancel && cancel->load(std::memory_order_relaxed)) {
      ::close(fd);
      throw Error(fmt::format("{}: hashing cancelled", path.string()));
    }
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(fmt::format("{}: read error: {}", path.string(), std::strerror(err)));
    }
    h.update(buf.data(), size_t(n));
  }
  ::close(fd);
  return h.hex_digest();
}

}  // namespace yardstick
