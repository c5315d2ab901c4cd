#pragma once
// series.h5: the run's time series and periodic fields, written by one rank in HDF5 SWMR mode so
// that the file stays readable while the run goes on and after it is killed at any moment (read
// it with SWMR read access, e.g. `twin inspect`, or clear the flag with `h5clear -s` for tools
// that open files plainly). An XDMF sidecar (series.xmf) lets ParaView open the fields.

#include <memory>
#include <string>
#include <vector>

#include "twin/config.hpp"
#include "twin/observation.hpp"

namespace twin::io {

class SeriesWriter {
 public:
  /// Creates (truncates) `path` with every dataset, then switches to SWMR writing.
  SeriesWriter(const std::string& path, const Config& config);
  ~SeriesWriter();
  SeriesWriter(const SeriesWriter&) = delete;
  SeriesWriter& operator=(const SeriesWriter&) = delete;

  /// Appends one cycle.
  void append(const CycleOutcome& outcome);
  /// Appends a field snapshot (ensemble mean and spread over the whole grid, x fastest).
  void append_fields(double t_s, const std::vector<double>& mean, const std::vector<double>& spread);
  /// Makes everything appended so far durable.
  void flush();

  /// Continues the series.h5 at `path` after its first `rows` cycle rows and `field_rows` field
  /// rows (a restart snapshot's counts): a copy of those rows replaces the file atomically, and
  /// the file as it was is kept (hard link) at `keep_old_as`. @throws DataError when the file
  /// holds fewer rows or other names than the snapshot expects.
  static std::unique_ptr<SeriesWriter> resume(const std::string& path, const Config& config, long rows, long field_rows,
                                              const std::string& keep_old_as);
  /// Bytes this file may still grow by: the smaller of the file system's free space and the
  /// process's file-size limit (RLIMIT_FSIZE) minus the file's size.
  std::uintmax_t room() const;
  /// What the next cycle's writes may need at most (a new chunk of every dataset, a field row,
  /// metadata), twice: below it, the writer should be closed while it still can be.
  std::uintmax_t reserve() const;

  /// After a write failed (a full disk): lets go of the file without closing it, for HDF5 1.10
  /// cannot close a file whose flush fails without leaving it half-closed (a crash when the
  /// library shuts down). The file stays as the last successful flush left it.
  void abandon();
  long rows() const;
  long field_rows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// What `twin inspect` prints about a series.h5 (datasets and their extents). Opens the file
/// with SWMR read access, so a file being written or left by a killed run can be read.
std::string describe_series(const std::string& path);

/// Number of cycles recorded in a series.h5.
long recorded_cycles(const std::string& path);

/// Readings recorded in a series.h5 (`/sensors/observed`, NaN where none), for replay:
/// [cycle][sensor] with the cycle end times and the sensor names.
struct RecordedReadings {
  std::vector<double> time_s;
  std::vector<std::string> sensors;
  std::vector<std::vector<double>> values;
};
RecordedReadings read_recorded_readings(const std::string& path);

/// Every per-cycle table of a series.h5, for `twin report`: row-major [cycle][column], as many
/// rows as every table holds (a killed run's tables may differ by the cycle being written).
struct SeriesTables {
  long cycles = 0;
  std::vector<double> time_s;
  std::vector<std::string> sensors, parameters, controls, timing_names;
  std::vector<double> observed, qc, forecast, analysis, spread;  // [cycle][sensor]; qc: QcReason codes
  std::vector<double> parameter_mean, parameter_std;            // [cycle][parameter]
  std::vector<double> control_value;                            // [cycle][control]
  std::vector<double> timings_ms;                               // [cycle][timing name]
  std::vector<double> mode;                                     // [cycle]: Mode codes
};
/// @throws DataError naming the file and the dataset when a table is missing or not the shape
/// its names say.
SeriesTables read_series_tables(const std::string& path);

}  // namespace twin::io
