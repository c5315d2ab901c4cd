// Reading series.h5 (`twin inspect`, replays of a recorded run): the file is untrusted input, so
// every shape is checked before anything is read.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>

#include "io/hdf5.hpp"
#include "io/series.hpp"
#include "io/series_detail.hpp"
#include "twin/error.hpp"

namespace twin::io {

namespace detail {

std::vector<std::string> read_names(hid_t file, const char* name) {
  Hdf5Id set(TWIN_HDF5_CHECK(H5Dopen2(file, name, H5P_DEFAULT)));
  Hdf5Id type(TWIN_HDF5_CHECK(H5Dget_type(set.get())));
  Hdf5Id space(TWIN_HDF5_CHECK(H5Dget_space(set.get())));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  const std::size_t width = H5Tget_size(type.get());
  // Fixed-length strings as twinrt writes them, no more of them than the file can hold.
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) != 0 || width == 0 || width > 4096 ||
      n < 0 || !stored_whole(set.get()))
    throw DataError(std::string(name) + " is not a list of names (fixed-length strings)");
  std::vector<char> buffer(static_cast<std::size_t>(n) * width);
  if (n > 0) TWIN_HDF5_CHECK(H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()));
  std::vector<std::string> out;
  for (hssize_t i = 0; i < n; ++i) out.emplace_back(&buffer[i * width], strnlen(&buffer[i * width], width));
  return out;
}

Hdf5Id open_series(const std::string& path) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": no such file");
  Hdf5Id fapl(TWIN_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  TWIN_HDF5_CHECK(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
  // A SWMR reader retries metadata whose checksum fails (a torn read of a block being written),
  // by default 100 times with growing sleeps: minutes on a damaged file. A few tries suffice
  // for a live writer's flushes.
  TWIN_HDF5_CHECK(H5Pset_metadata_read_attempts(fapl.get(), 4));
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl.get());
  if (f < 0) throw DataError(path + ": not a readable series.h5 (HDF5 could not open it)");
  return Hdf5Id(f);
}

}  // namespace detail

using detail::open_series;
using detail::read_names;

namespace {

// A damaged file read past its checks: the HDF5 call that failed, said of the file.
template <class Read>
auto reading(const std::string& path, Read&& read) {
  try {
    return read();
  } catch (const Hdf5Error& e) {
    throw DataError(path + ": damaged or not a series.h5 (" + e.what() + ")");
  } catch (const DataError& e) {
    const std::string what = e.what();
    if (what.compare(0, path.size(), path) == 0) throw;
    throw DataError(path + ": " + what);
  }
}

std::string describe_series_unchecked(const std::string& path) {
  Hdf5Id file = open_series(path);
  std::ostringstream out;
  out << path << "\n";
  for (const char* name : {"/cycle/time_s", "/sensors/observed", "/sensors/qc", "/sensors/forecast", "/sensors/analysis",
                           "/sensors/spread", "/parameters/mean", "/parameters/std", "/controls/value",
                           "/cycle/timings_ms", "/cycle/mode", "/fields/time_s", "/fields/mean", "/fields/spread"}) {
    Hdf5Id set(TWIN_HDF5_CHECK(H5Dopen2(file.get(), name, H5P_DEFAULT)));
    TWIN_HDF5_CHECK(H5Drefresh(set.get()));
    Hdf5Id space(TWIN_HDF5_CHECK(H5Dget_space(set.get())));
    hsize_t dims[H5S_MAX_RANK] = {0};
    const int rank = TWIN_HDF5_CHECK(H5Sget_simple_extent_dims(space.get(), dims, nullptr));
    out << "  " << name << " [";
    for (int i = 0; i < rank; ++i) out << (i ? " x " : "") << dims[i];
    out << "]\n";
  }
  for (const char* names : {"/sensors/names", "/parameters/names", "/controls/names"}) {
    out << "  " << names << ":";
    for (const auto& n : read_names(file.get(), names)) out << " " << n;
    out << "\n";
  }
  return out.str();
}

long recorded_cycles_unchecked(const std::string& path) {
  Hdf5Id file = open_series(path);
  Hdf5Id set(TWIN_HDF5_CHECK(H5Dopen2(file.get(), "/cycle/time_s", H5P_DEFAULT)));
  TWIN_HDF5_CHECK(H5Drefresh(set.get()));
  Hdf5Id space(TWIN_HDF5_CHECK(H5Dget_space(set.get())));
  hsize_t n = 0;
  TWIN_HDF5_CHECK(H5Sget_simple_extent_dims(space.get(), &n, nullptr));
  return static_cast<long>(n);
}

// The shape of a dataset of a file to be read, checked before any read: floating-point numbers
// (or integers too), all stored in the file.
std::vector<hsize_t> shape_of(hid_t file, const char* name, const std::string& path, bool integers = false) {
  const hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0) throw DataError(path + ": has no dataset " + name);
  Hdf5Id set(d);
  (void)H5Drefresh(set.get());
  Hdf5Id space(H5Dget_space(set.get()));
  const int rank = space.get() < 0 ? -1 : H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) throw DataError(path + ": " + name + " has no readable shape");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank), 0);
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
    throw DataError(path + ": " + name + " has no readable shape");
  Hdf5Id type(H5Dget_type(set.get()));
  const H5T_class_t cls = type.get() < 0 ? H5T_NO_CLASS : H5Tget_class(type.get());
  if ((cls != H5T_FLOAT && !(integers && cls == H5T_INTEGER)) || H5Tget_size(type.get()) > 16)
    throw DataError(path + ": " + name + (integers ? " does not hold numbers" : " does not hold floating-point numbers"));
  if (!stored_whole(set.get())) throw DataError(path + ": " + name + " declares more values than the file holds");
  return dims;
}

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s + "]";
}

RecordedReadings read_recorded_readings_unchecked(const std::string& path) {
  Hdf5Id file = open_series(path);
  RecordedReadings r;
  r.sensors = read_names(file.get(), "/sensors/names");
  // Shapes first: a recorded file is untrusted input, and HDF5 reads whatever fits the buffer.
  const std::vector<hsize_t> t_shape = shape_of(file.get(), "/cycle/time_s", path);
  const std::vector<hsize_t> v_shape = shape_of(file.get(), "/sensors/observed", path);
  if (t_shape.size() != 1) throw DataError(path + ": /cycle/time_s is " + shape_text(t_shape) + ", a list of times expected");
  const hsize_t cycles_h = t_shape[0];
  if (v_shape.size() != 2 || v_shape[0] != cycles_h || v_shape[1] != r.sensors.size())
    throw DataError(path + ": /sensors/observed is " + shape_text(v_shape) + ", expected [" + std::to_string(cycles_h) +
                    " x " + std::to_string(r.sensors.size()) + "] (one row per time, one column per name in /sensors/names)");
  if (cycles_h > (hsize_t{1} << 26) || cycles_h * r.sensors.size() > (hsize_t{1} << 28))
    throw DataError(path + ": more recorded readings than a replay reads (" + std::to_string(cycles_h) + " rows)");
  const long cycles = static_cast<long>(cycles_h);
  r.time_s.resize(static_cast<std::size_t>(cycles));
  std::vector<double> flat(static_cast<std::size_t>(cycles) * r.sensors.size());
  if (cycles > 0) {
    Hdf5Id t(TWIN_HDF5_CHECK(H5Dopen2(file.get(), "/cycle/time_s", H5P_DEFAULT)));
    TWIN_HDF5_CHECK(H5Dread(t.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, r.time_s.data()));
    Hdf5Id v(TWIN_HDF5_CHECK(H5Dopen2(file.get(), "/sensors/observed", H5P_DEFAULT)));
    if (!flat.empty()) TWIN_HDF5_CHECK(H5Dread(v.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat.data()));
  }
  for (long c = 0; c < cycles; ++c)
    r.values.emplace_back(flat.begin() + c * r.sensors.size(), flat.begin() + (c + 1) * r.sensors.size());
  return r;
}

// A per-cycle table: [rows x columns] of numbers (integers read as doubles), all its rows.
std::vector<double> read_table(hid_t file, const char* name, std::size_t columns, long& rows, const std::string& path) {
  const std::vector<hsize_t> dims = shape_of(file, name, path, /*integers=*/true);
  if (dims.empty() || dims.size() > 2) throw DataError(path + ": " + name + " is " + shape_text(dims) + ", not a table of cycles");
  const hsize_t cols = dims.size() == 2 ? dims[1] : 1;
  if (cols != columns)
    throw DataError(path + ": " + name + " has " + std::to_string(cols) + " columns, its names say " + std::to_string(columns));
  if (dims[0] > (hsize_t{1} << 24) || dims[0] * cols > (hsize_t{1} << 28))
    throw DataError(path + ": " + name + " has more rows than a report reads (" + std::to_string(dims[0]) + ")");
  std::vector<double> out(static_cast<std::size_t>(dims[0] * cols));
  Hdf5Id set(TWIN_HDF5_CHECK(H5Dopen2(file, name, H5P_DEFAULT)));
  if (!out.empty()) TWIN_HDF5_CHECK(H5Dread(set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()));
  rows = std::min(rows, static_cast<long>(dims[0]));
  return out;
}

SeriesTables read_series_tables_unchecked(const std::string& path) {
  Hdf5Id file = open_series(path);
  SeriesTables t;
  t.sensors = read_names(file.get(), "/sensors/names");
  t.parameters = read_names(file.get(), "/parameters/names");
  t.controls = read_names(file.get(), "/controls/names");
  t.timing_names = read_names(file.get(), "/cycle/timing_names");
  long rows = std::numeric_limits<long>::max();
  const hid_t f = file.get();
  const std::size_t ns = t.sensors.size(), np = t.parameters.size(), nc = t.controls.size();
  t.time_s = read_table(f, "/cycle/time_s", 1, rows, path);
  t.observed = read_table(f, "/sensors/observed", ns, rows, path);
  t.qc = read_table(f, "/sensors/qc", ns, rows, path);
  t.forecast = read_table(f, "/sensors/forecast", ns, rows, path);
  t.analysis = read_table(f, "/sensors/analysis", ns, rows, path);
  t.spread = read_table(f, "/sensors/spread", ns, rows, path);
  t.parameter_mean = read_table(f, "/parameters/mean", np, rows, path);
  t.parameter_std = read_table(f, "/parameters/std", np, rows, path);
  t.control_value = read_table(f, "/controls/value", nc, rows, path);
  t.timings_ms = read_table(f, "/cycle/timings_ms", t.timing_names.size(), rows, path);
  t.mode = read_table(f, "/cycle/mode", 1, rows, path);
  t.cycles = rows;
  // The rows every table has: a killed run may have written one table's row and not the next.
  const auto cut = [&](std::vector<double>& v, std::size_t columns) { v.resize(static_cast<std::size_t>(rows) * columns); };
  cut(t.time_s, 1), cut(t.observed, ns), cut(t.qc, ns), cut(t.forecast, ns), cut(t.analysis, ns), cut(t.spread, ns);
  cut(t.parameter_mean, np), cut(t.parameter_std, np), cut(t.control_value, nc), cut(t.timings_ms, t.timing_names.size());
  cut(t.mode, 1);
  return t;
}

}  // namespace

SeriesTables read_series_tables(const std::string& path) {
  return reading(path, [&] { return read_series_tables_unchecked(path); });
}

std::string describe_series(const std::string& path) {
  return reading(path, [&] { return describe_series_unchecked(path); });
}

long recorded_cycles(const std::string& path) {
  return reading(path, [&] { return recorded_cycles_unchecked(path); });
}

RecordedReadings read_recorded_readings(const std::string& path) {
  return reading(path, [&] { return read_recorded_readings_unchecked(path); });
}

}  // namespace twin::io
