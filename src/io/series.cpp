#include "io/series.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <sys/resource.h>

#include "ground/atomic_write.hpp"
#include "io/hdf5.hpp"
#include "io/series_detail.hpp"
#include "twin/error.hpp"

namespace twin::io {

namespace {

// A dataset of doubles (or ints) growing along its first axis, one row per append.
struct Growing {
  Hdf5Id id;
  std::vector<hsize_t> row;  // shape of one row
  hsize_t rows = 0;
  hid_t type = H5T_NATIVE_DOUBLE;

  void create(hid_t parent, const std::string& name, std::vector<hsize_t> row_shape, hid_t mem_type) {
    row = std::move(row_shape);
    type = mem_type;
    std::vector<hsize_t> dims{0}, maxdims{H5S_UNLIMITED}, chunk{1};
    hsize_t row_size = 1;
    for (hsize_t n : row) {
      dims.push_back(n);
      maxdims.push_back(n > 0 ? n : H5S_UNLIMITED);  // a chunk may not be empty
      chunk.push_back(std::max<hsize_t>(n, 1));
      row_size *= std::max<hsize_t>(n, 1);
    }
    chunk[0] = row_size >= 512 ? 1 : std::max<hsize_t>(1, 512 / std::max<hsize_t>(1, row_size));  // 4 KiB chunks of small rows
    Hdf5Id space(TWIN_HDF5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims.data())));
    Hdf5Id plist(TWIN_HDF5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));
    TWIN_HDF5_CHECK(H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data()));
    const hid_t file_type = mem_type == H5T_NATIVE_INT ? H5T_STD_I32LE : H5T_IEEE_F64LE;
    if (mem_type == H5T_NATIVE_DOUBLE) {
      const double fill = std::numeric_limits<double>::quiet_NaN();
      TWIN_HDF5_CHECK(H5Pset_fill_value(plist.get(), H5T_NATIVE_DOUBLE, &fill));
    }
    id = Hdf5Id(TWIN_HDF5_CHECK(H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT)));
  }

  // Appends `n` rows at once (the rows of a resumed file).
  void append_rows(hsize_t n, const void* data) {
    if (n == 0) return;
    std::vector<hsize_t> dims{rows + n}, start{rows}, count{n};
    bool empty = false;
    for (hsize_t m : row) {
      dims.push_back(m);
      start.push_back(0);
      count.push_back(m);
      empty = empty || m == 0;
    }
    TWIN_HDF5_CHECK(H5Dset_extent(id.get(), dims.data()));
    if (!empty) {
      Hdf5Id file_space(TWIN_HDF5_CHECK(H5Dget_space(id.get())));
      TWIN_HDF5_CHECK(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr));
      Hdf5Id mem_space(TWIN_HDF5_CHECK(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr)));
      TWIN_HDF5_CHECK(H5Dwrite(id.get(), type, mem_space.get(), file_space.get(), H5P_DEFAULT, data));
    }
    rows += n;
  }

  // The first `n` rows of the same dataset in another file (a resumed run's old series.h5).
  std::vector<char> read_rows(hid_t file, const std::string& name, hsize_t n) const {
    hsize_t row_size = 1;
    for (hsize_t m : row) row_size *= m;
    const std::size_t elem = type == H5T_NATIVE_INT ? sizeof(int) : sizeof(double);
    std::vector<char> out(static_cast<std::size_t>(n * row_size) * elem);
    if (n == 0 || row_size == 0) return out;
    Hdf5Id set(TWIN_HDF5_CHECK(H5Dopen2(file, name.c_str(), H5P_DEFAULT)));
    TWIN_HDF5_CHECK(H5Drefresh(set.get()));
    Hdf5Id space(TWIN_HDF5_CHECK(H5Dget_space(set.get())));
    std::vector<hsize_t> dims(row.size() + 1, 0);
    if (H5Sget_simple_extent_ndims(space.get()) != static_cast<int>(dims.size()))
      throw DataError(name + " has another shape than this config writes");
    TWIN_HDF5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
    for (std::size_t d = 0; d < row.size(); ++d)
      if (dims[d + 1] != row[d]) throw DataError(name + " has another shape than this config writes");
    if (dims[0] < n)
      throw DataError(name + " holds " + std::to_string(dims[0]) + " rows, the snapshot counts " + std::to_string(n));
    std::vector<hsize_t> start(dims.size(), 0), count{n};
    for (hsize_t m : row) count.push_back(m);
    TWIN_HDF5_CHECK(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr));
    Hdf5Id mem(TWIN_HDF5_CHECK(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr)));
    TWIN_HDF5_CHECK(H5Dread(set.get(), type, mem.get(), space.get(), H5P_DEFAULT, out.data()));
    return out;
  }

  void append(const void* data) {
    for (hsize_t n : row)
      if (n == 0) {
        // Nothing to store, but the row count still grows with the other datasets.
        std::vector<hsize_t> dims{rows + 1};
        for (hsize_t m : row) dims.push_back(m);
        TWIN_HDF5_CHECK(H5Dset_extent(id.get(), dims.data()));
        ++rows;
        return;
      }
    std::vector<hsize_t> dims{rows + 1}, start{rows}, count{1};
    for (hsize_t n : row) {
      dims.push_back(n);
      start.push_back(0);
      count.push_back(n);
    }
    TWIN_HDF5_CHECK(H5Dset_extent(id.get(), dims.data()));
    Hdf5Id file_space(TWIN_HDF5_CHECK(H5Dget_space(id.get())));
    TWIN_HDF5_CHECK(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr));
    Hdf5Id mem_space(TWIN_HDF5_CHECK(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr)));
    TWIN_HDF5_CHECK(H5Dwrite(id.get(), type, mem_space.get(), file_space.get(), H5P_DEFAULT, data));
    ++rows;
  }
};

void write_names(hid_t parent, const char* name, const std::vector<std::string>& names) {
  const hsize_t n = names.size();
  std::size_t width = 1;
  for (const auto& s : names) width = std::max(width, s.size() + 1);
  std::vector<char> buffer(n * width, '\0');
  for (std::size_t i = 0; i < names.size(); ++i) names[i].copy(&buffer[i * width], names[i].size());
  Hdf5Id type(TWIN_HDF5_CHECK(H5Tcopy(H5T_C_S1)));
  TWIN_HDF5_CHECK(H5Tset_size(type.get(), width));
  Hdf5Id space(TWIN_HDF5_CHECK(n ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_NULL)));
  Hdf5Id set(TWIN_HDF5_CHECK(H5Dcreate2(parent, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  if (n) TWIN_HDF5_CHECK(H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()));
}

}  // namespace

struct SeriesWriter::Impl {
  std::string path;
  Hdf5Id file;
  Growing time, observed, qc, forecast, analysis, spread, parameters, parameter_std, controls, timings, mode, assimilated;
  Growing field_time, field_mean, field_spread;
  std::vector<hsize_t> field_shape;  // (z,) y, x
  std::vector<double> extent;
  int fields_written = 0;
  std::vector<double> field_times;

  void write_xdmf() const {
    // The sidecar is rewritten whole and renamed into place: readers never see half of it.
    std::ostringstream x;
    const bool three = field_shape.size() == 3;
    // A CoRectMesh's Dimensions count points: one more than the cells per axis. The fields are
    // cell values (Center="Cell"), so their DataItems keep the cell counts.
    std::string dims, points, origin, spacing;
    for (std::size_t i = 0; i < field_shape.size(); ++i) {
      dims += (i ? " " : "") + std::to_string(field_shape[i]);
      points += (i ? " " : "") + std::to_string(field_shape[i] + 1);
    }
    for (std::size_t i = 0; i < field_shape.size(); ++i) {
      const std::size_t axis = field_shape.size() - 1 - i;  // file order is (z,) y, x
      origin += std::string(i ? " " : "") + "0";
      char step[32];  // every digit: ParaView puts the far edge at cells x spacing
      std::snprintf(step, sizeof step, "%.17g", extent[axis] / static_cast<double>(field_shape[i]));
      spacing += (i ? " " : "") + std::string(step);
    }
    const std::string file_name = std::filesystem::path(path).filename().string();
    x << "<?xml version=\"1.0\" ?>\n<Xdmf Version=\"3.0\">\n<Domain>\n"
      << "<Grid Name=\"twin\" GridType=\"Collection\" CollectionType=\"Temporal\">\n";
    for (int k = 0; k < fields_written; ++k) {
      x << "<Grid Name=\"t" << k << "\" GridType=\"Uniform\">\n<Time Value=\"" << field_times[k] << "\"/>\n"
        << "<Topology TopologyType=\"" << (three ? "3DCoRectMesh" : "2DCoRectMesh") << "\" Dimensions=\"" << points
        << "\"/>\n<Geometry GeometryType=\"" << (three ? "ORIGIN_DXDYDZ" : "ORIGIN_DXDY") << "\">\n"
        << "<DataItem Format=\"XML\" Dimensions=\"" << field_shape.size() << "\">" << origin << "</DataItem>\n"
        << "<DataItem Format=\"XML\" Dimensions=\"" << field_shape.size() << "\">" << spacing << "</DataItem>\n</Geometry>\n";
      for (const char* name : {"mean", "spread"}) {
        x << "<Attribute Name=\"" << name << "\" Center=\"Cell\">\n<DataItem ItemType=\"HyperSlab\" Dimensions=\"" << dims
          << "\">\n<DataItem Dimensions=\"3 " << field_shape.size() + 1 << "\" Format=\"XML\">" << k;
        for (std::size_t i = 0; i < field_shape.size(); ++i) x << " 0";
        x << " 1";
        for (std::size_t i = 0; i < field_shape.size(); ++i) x << " 1";
        x << " 1 " << dims << "</DataItem>\n<DataItem Format=\"HDF\" NumberType=\"Float\" Precision=\"8\" Dimensions=\""
          << fields_written << " " << dims << "\">" << file_name << ":/fields/" << name << "</DataItem>\n</DataItem>\n</Attribute>\n";
      }
      x << "</Grid>\n";
    }
    x << "</Grid>\n</Domain>\n</Xdmf>\n";
    const std::string xmf = std::filesystem::path(path).replace_extension(".xmf").string();
    atomic_write(xmf, x.str(), WriteSync::atomic);  // inside the cycle: no fsync
  }
};

SeriesWriter::SeriesWriter(const std::string& path, const Config& config) : m_impl(std::make_unique<Impl>()) {
  Impl& m = *m_impl;
  m.path = path;
  m.extent = config.grid.extent_m;
  Hdf5Id fapl(TWIN_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  TWIN_HDF5_CHECK(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (f < 0) throw Hdf5Error("cannot create " + path);
  m.file = Hdf5Id(f);
  const hid_t file = m.file.get();
  for (const char* g : {"/sensors", "/parameters", "/controls", "/cycle", "/fields"})
    Hdf5Id(TWIN_HDF5_CHECK(H5Gcreate2(file, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));

  std::vector<std::string> sensors, params, controls;
  for (const auto& s : config.sensors) sensors.push_back(s.name);
  for (const auto& p : config.ensemble.parameters) params.push_back(p.name);
  for (const auto& c : config.controls) controls.push_back(c.name);
  write_names(file, "/sensors/names", sensors);
  write_names(file, "/parameters/names", params);
  write_names(file, "/controls/names", controls);
  write_names(file, "/cycle/timing_names", {"qc_ms", "forecast_ms", "assimilate_ms", "advise_ms", "emit_ms", "record_ms", "total_ms"});
  const hsize_t ns = sensors.size(), np = params.size(), nc = controls.size();
  m.time.create(file, "/cycle/time_s", {}, H5T_NATIVE_DOUBLE);
  m.observed.create(file, "/sensors/observed", {ns}, H5T_NATIVE_DOUBLE);
  m.qc.create(file, "/sensors/qc", {ns}, H5T_NATIVE_INT);
  m.forecast.create(file, "/sensors/forecast", {ns}, H5T_NATIVE_DOUBLE);
  m.analysis.create(file, "/sensors/analysis", {ns}, H5T_NATIVE_DOUBLE);
  m.spread.create(file, "/sensors/spread", {ns}, H5T_NATIVE_DOUBLE);
  m.parameters.create(file, "/parameters/mean", {np}, H5T_NATIVE_DOUBLE);
  m.parameter_std.create(file, "/parameters/std", {np}, H5T_NATIVE_DOUBLE);
  m.controls.create(file, "/controls/value", {nc}, H5T_NATIVE_DOUBLE);
  m.timings.create(file, "/cycle/timings_ms", {7}, H5T_NATIVE_DOUBLE);
  m.mode.create(file, "/cycle/mode", {}, H5T_NATIVE_INT);
  m.assimilated.create(file, "/cycle/assimilated", {}, H5T_NATIVE_INT);
  for (int d = config.dims() - 1; d >= 0; --d) m.field_shape.push_back(static_cast<hsize_t>(config.grid.cells[d]));
  m.field_time.create(file, "/fields/time_s", {}, H5T_NATIVE_DOUBLE);
  m.field_mean.create(file, "/fields/mean", m.field_shape, H5T_NATIVE_DOUBLE);
  m.field_spread.create(file, "/fields/spread", m.field_shape, H5T_NATIVE_DOUBLE);
  TWIN_HDF5_CHECK(H5Fstart_swmr_write(file));
}

SeriesWriter::~SeriesWriter() = default;

void SeriesWriter::append(const CycleOutcome& o) {
  Impl& m = *m_impl;
  const std::size_t ns = o.sensors.size();
  std::vector<double> observed(ns), forecast(ns), analysis(ns), spread(ns);
  std::vector<int> qc(ns);
  for (std::size_t s = 0; s < ns; ++s) {
    observed[s] = o.sensors[s].observed;
    qc[s] = static_cast<int>(o.sensors[s].qc);
    forecast[s] = o.sensors[s].forecast;
    analysis[s] = o.sensors[s].analysis;
    spread[s] = o.sensors[s].spread;
  }
  std::vector<double> pm, ps, cv;
  for (const auto& p : o.parameters) pm.push_back(p.mean), ps.push_back(p.std);
  for (const auto& c : o.advice.controls) cv.push_back(c.value);
  const double t[7] = {o.timings.qc_ms, o.timings.forecast_ms, o.timings.assimilate_ms, o.timings.advise_ms, o.timings.emit_ms,
                       o.timings.record_ms, o.timings.total_ms};
  const int mode = static_cast<int>(o.advice.mode), assimilated = o.assimilated ? 1 : 0;
  m.time.append(&o.advice.t_s);
  m.observed.append(observed.data());
  m.qc.append(qc.data());
  m.forecast.append(forecast.data());
  m.analysis.append(analysis.data());
  m.spread.append(spread.data());
  m.parameters.append(pm.data());
  m.parameter_std.append(ps.data());
  m.controls.append(cv.data());
  m.timings.append(t);
  m.mode.append(&mode);
  m.assimilated.append(&assimilated);
}

void SeriesWriter::append_fields(double t_s, const std::vector<double>& mean, const std::vector<double>& spread) {
  Impl& m = *m_impl;
  m.field_time.append(&t_s);
  m.field_mean.append(mean.data());
  m.field_spread.append(spread.data());
  ++m.fields_written;
  m.field_times.push_back(t_s);
  TWIN_HDF5_CHECK(H5Fflush(m.file.get(), H5F_SCOPE_LOCAL));  // the sidecar must not point past the data
  m.write_xdmf();
}

std::uintmax_t SeriesWriter::room() const {
  namespace fs = std::filesystem;
  std::uintmax_t room = std::numeric_limits<std::uintmax_t>::max();
  std::error_code ec;
  const fs::space_info space = fs::space(fs::path(m_impl->path).parent_path(), ec);
  if (!ec) room = space.available;
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const std::uintmax_t size = fs::file_size(m_impl->path, ec);
    const std::uintmax_t cap = static_cast<std::uintmax_t>(limit.rlim_cur);
    room = std::min(room, ec || size >= cap ? 0 : cap - size);
  }
  return room;
}

std::uintmax_t SeriesWriter::reserve() const {
  const Impl& m = *m_impl;
  std::uintmax_t field = sizeof(double);
  for (hsize_t n : m.field_shape) field *= n;
  return 2 * (16 * 4096 + 2 * field) + 65536;
}

void SeriesWriter::abandon() {
  Impl& m = *m_impl;
  for (Growing* g : {&m.time, &m.observed, &m.qc, &m.forecast, &m.analysis, &m.spread, &m.parameters, &m.parameter_std,
                     &m.controls, &m.timings, &m.mode, &m.assimilated, &m.field_time, &m.field_mean, &m.field_spread})
    (void)g->id.release();
  (void)m.file.release();
}

long SeriesWriter::rows() const { return static_cast<long>(m_impl->time.rows); }
long SeriesWriter::field_rows() const { return static_cast<long>(m_impl->field_time.rows); }

std::unique_ptr<SeriesWriter> SeriesWriter::resume(const std::string& path, const Config& config, long rows,
                                                   long field_rows, const std::string& keep_old_as) {
  namespace fs = std::filesystem;
  const std::string tmp = path + ".resume.tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  auto writer = std::unique_ptr<SeriesWriter>(new SeriesWriter(tmp, config));
  Impl& m = *writer->m_impl;
  try {
    Hdf5Id old = detail::open_series(path);
    std::vector<std::string> sensors, params, controls;
    for (const auto& s : config.sensors) sensors.push_back(s.name);
    for (const auto& q : config.ensemble.parameters) params.push_back(q.name);
    for (const auto& c : config.controls) controls.push_back(c.name);
    if (detail::read_names(old.get(), "/sensors/names") != sensors || detail::read_names(old.get(), "/parameters/names") != params ||
        detail::read_names(old.get(), "/controls/names") != controls)
      throw DataError("its sensors, parameters or controls are not this config's");
    const auto copy = [&](Growing& g, const char* name, long n) {
      const std::vector<char> data = g.read_rows(old.get(), name, static_cast<hsize_t>(n));
      g.append_rows(static_cast<hsize_t>(n), data.data());
    };
    const std::pair<Growing*, const char*> cycle_sets[] = {
        {&m.time, "/cycle/time_s"},          {&m.observed, "/sensors/observed"},   {&m.qc, "/sensors/qc"},
        {&m.forecast, "/sensors/forecast"},  {&m.analysis, "/sensors/analysis"},   {&m.spread, "/sensors/spread"},
        {&m.parameters, "/parameters/mean"}, {&m.parameter_std, "/parameters/std"}, {&m.controls, "/controls/value"},
        {&m.timings, "/cycle/timings_ms"},   {&m.mode, "/cycle/mode"},             {&m.assimilated, "/cycle/assimilated"}};
    for (const auto& [g, name] : cycle_sets) copy(*g, name, rows);
    copy(m.field_time, "/fields/time_s", field_rows);
    copy(m.field_mean, "/fields/mean", field_rows);
    copy(m.field_spread, "/fields/spread", field_rows);
    const std::vector<char> times = m.field_time.read_rows(old.get(), "/fields/time_s", static_cast<hsize_t>(field_rows));
    m.field_times.resize(static_cast<std::size_t>(field_rows));
    if (field_rows > 0) std::memcpy(m.field_times.data(), times.data(), times.size());
    m.fields_written = static_cast<int>(field_rows);
    TWIN_HDF5_CHECK(H5Fflush(m.file.get(), H5F_SCOPE_LOCAL));
  } catch (const Error& e) {
    writer.reset();
    fs::remove(tmp, ec);
    throw DataError(path + ": cannot continue it from the snapshot: " + e.what());
  }
  // The old file stays reachable under keep_old_as; the copy takes its name in one rename.
  fs::remove(keep_old_as, ec);
  fs::create_hard_link(path, keep_old_as, ec);
  if (ec) fs::copy_file(path, keep_old_as, fs::copy_options::overwrite_existing, ec);
  if (ec) spdlog::warn("{}: cannot keep the file as it was at {}: {}", path, keep_old_as, ec.message());
  fs::rename(tmp, path, ec);
  if (ec) throw Error("cannot move the resumed series into place at " + path + ": " + ec.message());
  m.path = path;
  if (m.fields_written > 0) m.write_xdmf();
  return writer;
}

void SeriesWriter::flush() { TWIN_HDF5_CHECK(H5Fflush(m_impl->file.get(), H5F_SCOPE_LOCAL)); }

}  // namespace twin::io
