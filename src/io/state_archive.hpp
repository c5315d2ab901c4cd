#pragma once
// One rank's part of a restart snapshot: named arrays of doubles, integers and strings, kept in
// memory and encoded as an HDF5 file image (the core driver), so that the cycle thread only
// copies its state and encodes it, and another thread writes the bytes (HDF5 is not
// thread-safe here). Doubles travel bit for bit, NaN included; that is what a bit-identical
// resume rests on. Names are flat, dot-separated ("qc.last_value"); each becomes one dataset.

#include <map>
#include <string>
#include <vector>

namespace twin::io {

class StateArchive {
 public:
  void put(const std::string& name, double value) { put(name, std::vector<double>{value}); }
  void put(const std::string& name, long long value) { put(name, std::vector<long long>{value}); }
  void put(const std::string& name, int value) { put(name, static_cast<long long>(value)); }
  void put(const std::string& name, long value) { put(name, static_cast<long long>(value)); }
  void put(const std::string& name, bool value) { put(name, static_cast<long long>(value ? 1 : 0)); }
  void put(const std::string& name, const char* value) { put(name, std::string(value)); }
  void put(const std::string& name, const std::string& value) { put(name, std::vector<std::string>{value}); }
  void put(const std::string& name, std::vector<double> values);
  void put(const std::string& name, std::vector<long long> values);
  void put(const std::string& name, std::vector<std::string> values);
  template <class Int>
  void put_ints(const std::string& name, const std::vector<Int>& values) {
    put(name, std::vector<long long>(values.begin(), values.end()));
  }

  bool has(const std::string& name) const { return m_entries.count(name) != 0; }
  /// The arrays by name; a missing name or another kind is a DataError naming the archive.
  const std::vector<double>& doubles(const std::string& name) const;
  const std::vector<long long>& ints(const std::string& name) const;
  const std::vector<std::string>& strings(const std::string& name) const;
  double get_double(const std::string& name) const;
  long long get_int(const std::string& name) const;
  bool get_bool(const std::string& name) const { return get_int(name) != 0; }
  const std::string& get_string(const std::string& name) const;
  template <class Int>
  std::vector<Int> ints_as(const std::string& name) const {
    const auto& v = ints(name);
    return std::vector<Int>(v.begin(), v.end());
  }
  /// `doubles(name)` with exactly `size` values, or a DataError.
  const std::vector<double>& doubles(const std::string& name, std::size_t size) const;

  /// The HDF5 file image of the archive.
  std::string encode() const;
  /// An archive from an HDF5 file image; `origin` names it in errors (a path).
  static StateArchive decode(const std::string& image, const std::string& origin);

  const std::string& origin() const { return m_origin; }
  std::size_t size_bytes() const;

 private:
  struct Entry {
    enum class Kind { f64, i64, str } kind = Kind::f64;
    std::vector<double> f;
    std::vector<long long> i;
    std::vector<std::string> s;
  };
  const Entry& find(const std::string& name, Entry::Kind kind) const;
  std::map<std::string, Entry> m_entries;
  std::string m_origin = "<memory>";
};

}  // namespace twin::io
