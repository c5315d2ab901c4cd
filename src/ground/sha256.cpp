#include "ground/sha256.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "twin/error.hpp"

namespace twin {

namespace {

// One running digest; OpenSSL's return codes become exceptions here, once.
class Sha256 {
 public:
  Sha256() : m_ctx(EVP_MD_CTX_new()) {
    if (!m_ctx || EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr) != 1)
      throw Error("sha256: EVP_DigestInit_ex failed");
  }

  void update(const void* data, std::size_t bytes) {
    if (bytes > 0 && EVP_DigestUpdate(m_ctx.get(), data, bytes) != 1) throw Error("sha256: EVP_DigestUpdate failed");
  }

  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(m_ctx.get(), digest.data(), &size) != 1) throw Error("sha256: EVP_DigestFinal_ex failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * std::size_t{size});
    for (std::size_t i = 0; i < size; ++i) {
      out += digits[digest[i] >> 4];
      out += digits[digest[i] & 0xf];
    }
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> m_ctx;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

std::string sha256_hex(const void* data, std::size_t bytes) {
  Sha256 digest;
  digest.update(data, bytes);
  return digest.hex();
}

std::string sha256_hex(std::string_view text) { return sha256_hex(text.data(), text.size()); }

std::string sha256_file(const std::string& path) {
  // stdio rather than ifstream: fread on a directory reports EISDIR through ferror, where an
  // ifstream would quietly read zero bytes.
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw DataError(path + ": cannot open for reading: " + std::strerror(errno));
  Sha256 digest;
  std::array<char, 1 << 16> chunk;
  std::size_t got = 0;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0) digest.update(chunk.data(), got);
  if (std::ferror(file.get())) throw DataError(path + ": cannot read: " + std::strerror(errno));
  return digest.hex();
}

std::string hmac_sha256_hex(std::string_view key, std::string_view text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
            text.size(), mac, &length))
    throw Error("hmac-sha256: HMAC failed");
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[mac[i] >> 4];
    hex += digits[mac[i] & 15];
  }
  return hex;
}

std::string read_key_file(const std::string& path, const std::string& named_by) {
  const std::string where = path + (named_by.empty() ? std::string() : " (" + named_by + ")");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw DataError(where + ": cannot read the key file: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw DataError(where + ": the key file is not a regular file");
  if (st.st_size < 32 || st.st_size > 4096)
    throw DataError(where + ": a key file holds 32 to 4096 bytes of secret (e.g. head -c 32 /dev/urandom > FILE), this one " +
                    std::to_string(st.st_size));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw DataError(where + ": cannot read the key file: " + std::strerror(errno));
  std::string key(static_cast<std::size_t>(st.st_size), '\0');
  const std::size_t got = std::fread(key.data(), 1, key.size(), f);
  std::fclose(f);
  if (got != key.size()) throw DataError(where + ": cannot read the key file");
  return key;
}

}  // namespace twin
