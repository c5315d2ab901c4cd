#pragma once
// SHA-256 digests (FIPS 180-4) as lowercase hex, for content fingerprints and the audit chain.
// Thread-safe: every call uses its own digest context.

#include <cstddef>
#include <string>
#include <string_view>

namespace twin {

/// SHA-256 of `bytes` bytes at `data` (which may be null when `bytes` is 0), as 64 lowercase
/// hex characters. @throws Error if OpenSSL fails (it does not for valid input).
std::string sha256_hex(const void* data, std::size_t bytes);

/// SHA-256 of the bytes of `text` (no terminator, no encoding change).
std::string sha256_hex(std::string_view text);

/// SHA-256 of the contents of the file at `path`, read in chunks (any size, constant memory).
/// @throws DataError naming `path` when the file cannot be opened or read (missing,
///         unreadable, a directory).
std::string sha256_file(const std::string& path);

/// HMAC-SHA-256 (lowercase hex) of `text` under `key` (OpenSSL).
std::string hmac_sha256_hex(std::string_view key, std::string_view text);

/// A secret key from a file (the facility's audit key): a regular file of 32 to 4096 bytes.
/// `named_by` is where the path came from (a config key, an environment variable, an option),
/// for the message. @throws DataError naming the file, where it was named, and what is wrong.
std::string read_key_file(const std::string& path, const std::string& named_by);

}  // namespace twin
