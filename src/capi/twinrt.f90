! twinrt from Fortran 2008: the C API (twin.h) through iso_c_binding. Compile this file with your
! program and link libtwinrt (pkg-config --libs twinrt, or CMake's twinrt::c). docs/embedding.md
! is the contract.
!
!   use twinrt
!   type(c_ptr) :: t
!   if (twin_create('plate.yaml', t) /= TWIN_OK) stop twin_last_error()
!   do cycle = 1, n
!     st = twin_ingest(t, times, sensors, values)     ! sensors: 1-based indices (Fortran order)
!     st = twin_step(t, 500d0, controls, mode)
!   end do
!   call twin_destroy(t)
!
! Status codes and modes are those of twin.h. Sensor indices are 1-based here (0-based in C).
module twinrt
  use, intrinsic :: iso_c_binding
  implicit none
  private

  integer(c_int), parameter, public :: TWIN_OK = 0, TWIN_ERROR_ARGUMENT = 1, TWIN_ERROR_CONFIG = 2, &
                                       TWIN_ERROR_DATA = 3, TWIN_ERROR_MPI = 4, TWIN_ERROR_RUNTIME = 5, &
                                       TWIN_ERROR_MEMORY = 6
  integer(c_int), parameter, public :: TWIN_MODE_NOMINAL = 0, TWIN_MODE_FALLBACK = 1, &
                                       TWIN_MODE_ADVISOR_OFF = 2, TWIN_MODE_SAFE_HOLD = 3

  public :: c_ptr, c_int, c_double
  public :: twin_create, twin_destroy, twin_errmsg, twin_last_error, twin_version_string
  public :: twin_sensor_count, twin_control_count, twin_parameter_count, twin_cycle
  public :: twin_ingest, twin_apply_controls, twin_step, twin_sensor_estimates, twin_parameter_estimates
  public :: twin_save_snapshot, twin_restore

  interface
    integer(c_int) function c_create(path, comm, run_dir, out) bind(c, name='twin_create')
      import :: c_int, c_ptr, c_char
      character(kind=c_char), intent(in) :: path(*)
      type(c_ptr), value :: comm
      type(c_ptr), value :: run_dir
      type(c_ptr), intent(out) :: out
    end function
    subroutine c_destroy(t) bind(c, name='twin_destroy')
      import :: c_ptr
      type(c_ptr), value :: t
    end subroutine
    type(c_ptr) function c_errmsg(t) bind(c, name='twin_errmsg')
      import :: c_ptr
      type(c_ptr), value :: t
    end function
    type(c_ptr) function c_last_error() bind(c, name='twin_last_error')
      import :: c_ptr
    end function
    type(c_ptr) function c_version_string() bind(c, name='twin_version_string')
      import :: c_ptr
    end function
    integer(c_int) function twin_sensor_count(t) bind(c, name='twin_sensor_count')
      import :: c_int, c_ptr
      type(c_ptr), value :: t
    end function
    integer(c_int) function twin_control_count(t) bind(c, name='twin_control_count')
      import :: c_int, c_ptr
      type(c_ptr), value :: t
    end function
    integer(c_int) function twin_parameter_count(t) bind(c, name='twin_parameter_count')
      import :: c_int, c_ptr
      type(c_ptr), value :: t
    end function
    integer(c_int) function twin_cycle(t) bind(c, name='twin_cycle')
      import :: c_int, c_ptr
      type(c_ptr), value :: t
    end function
    integer(c_int) function c_ingest(t, n, times, sensors, values) bind(c, name='twin_ingest')
      import :: c_int, c_ptr, c_size_t, c_double
      type(c_ptr), value :: t
      integer(c_size_t), value :: n
      real(c_double), intent(in) :: times(*), values(*)
      integer(c_int), intent(in) :: sensors(*)
    end function
    integer(c_int) function c_apply_controls(t, n, controls) bind(c, name='twin_apply_controls')
      import :: c_int, c_ptr, c_size_t, c_double
      type(c_ptr), value :: t
      integer(c_size_t), value :: n
      real(c_double), intent(in) :: controls(*)
    end function
    integer(c_int) function c_step(t, deadline_ms, controls, n, mode, reason, reason_size) bind(c, name='twin_step')
      import :: c_int, c_ptr, c_size_t, c_double, c_char
      type(c_ptr), value :: t
      real(c_double), value :: deadline_ms
      real(c_double), intent(out) :: controls(*)
      integer(c_size_t), value :: n
      integer(c_int), intent(out) :: mode
      character(kind=c_char), intent(out) :: reason(*)
      integer(c_size_t), value :: reason_size
    end function
    integer(c_int) function c_sensor_estimates(t, n, mean, spread) bind(c, name='twin_sensor_estimates')
      import :: c_int, c_ptr, c_size_t, c_double
      type(c_ptr), value :: t
      integer(c_size_t), value :: n
      real(c_double), intent(out) :: mean(*), spread(*)
    end function
    integer(c_int) function c_parameter_estimates(t, n, mean, spread) bind(c, name='twin_parameter_estimates')
      import :: c_int, c_ptr, c_size_t, c_double
      type(c_ptr), value :: t
      integer(c_size_t), value :: n
      real(c_double), intent(out) :: mean(*), spread(*)
    end function
    integer(c_int) function c_save_snapshot(t, dir) bind(c, name='twin_save_snapshot')
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: t
      character(kind=c_char), intent(in) :: dir(*)
    end function
    integer(c_int) function c_restore(t, dir) bind(c, name='twin_restore')
      import :: c_int, c_ptr, c_char
      type(c_ptr), value :: t
      character(kind=c_char), intent(in) :: dir(*)
    end function
    function c_strlen(s) bind(c, name='strlen')
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: c_strlen
    end function
  end interface

contains

  ! A C string (owned by the library) as a Fortran string.
  function from_c(p) result(s)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: s
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n
    if (.not. c_associated(p)) then
      s = ''
      return
    end if
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate(character(len=n) :: s)
    do i = 1, n
      s(i:i) = chars(i)
    end do
  end function

  ! Creates a twin from a YAML file. comm: an MPI communicator (MPI_COMM_WORLD, an integer
  ! handle); absent: a single process. run_dir: where the outputs go; absent: no files. Collective.
  integer(c_int) function twin_create(config_path, t, comm, run_dir) result(status)
    character(len=*), intent(in) :: config_path
    type(c_ptr), intent(out) :: t
    integer, intent(in), optional, target :: comm
    character(len=*), intent(in), optional :: run_dir
    integer(c_int), target :: fcomm
    character(kind=c_char, len=:), allocatable, target :: dir
    type(c_ptr) :: pcomm, pdir
    pcomm = c_null_ptr
    pdir = c_null_ptr
    if (present(comm)) then
      fcomm = int(comm, c_int)
      pcomm = c_loc(fcomm)
    end if
    if (present(run_dir)) then
      dir = run_dir // c_null_char
      pdir = c_loc(dir)
    end if
    status = c_create(config_path // c_null_char, pcomm, pdir, t)
  end function

  ! Releases a twin. Collective.
  subroutine twin_destroy(t)
    type(c_ptr), intent(inout) :: t
    call c_destroy(t)
    t = c_null_ptr
  end subroutine

  ! The last failure on this twin ('' when none).
  function twin_errmsg(t) result(s)
    type(c_ptr), intent(in) :: t
    character(len=:), allocatable :: s
    s = from_c(c_errmsg(t))
  end function

  ! The last failure of twin_create on this thread.
  function twin_last_error() result(s)
    character(len=:), allocatable :: s
    s = from_c(c_last_error())
  end function

  function twin_version_string() result(s)
    character(len=:), allocatable :: s
    s = from_c(c_version_string())
  end function

  ! Queues readings: times [s], sensors (1-based indices in the config's order), values.
  integer(c_int) function twin_ingest(t, times, sensors, values) result(status)
    type(c_ptr), intent(in) :: t
    real(c_double), intent(in) :: times(:), values(:)
    integer, intent(in) :: sensors(:)
    integer(c_int) :: zero_based(size(sensors))
    if (size(times) /= size(sensors) .or. size(values) /= size(sensors)) then
      status = TWIN_ERROR_ARGUMENT
      return
    end if
    zero_based = int(sensors - 1, c_int)
    status = c_ingest(t, int(size(times), c_size_t), times, zero_based, values)
  end function

  ! The facility applies these controls instead of the last advice.
  integer(c_int) function twin_apply_controls(t, controls) result(status)
    type(c_ptr), intent(in) :: t
    real(c_double), intent(in) :: controls(:)
    status = c_apply_controls(t, int(size(controls), c_size_t), controls)
  end function

  ! Runs one cycle within deadline_ms; the advice goes into controls, its mode into mode and,
  ! when present, why into reason. Collective.
  integer(c_int) function twin_step(t, deadline_ms, controls, mode, reason) result(status)
    type(c_ptr), intent(in) :: t
    real(c_double), intent(in) :: deadline_ms
    real(c_double), intent(out) :: controls(:)
    integer, intent(out) :: mode
    character(len=*), intent(out), optional :: reason
    character(kind=c_char) :: buffer(512)
    integer(c_int) :: m
    integer :: i
    status = c_step(t, deadline_ms, controls, int(size(controls), c_size_t), m, buffer, int(size(buffer), c_size_t))
    mode = int(m)
    if (present(reason)) then
      reason = ''
      do i = 1, min(len(reason), size(buffer))
        if (buffer(i) == c_null_char) exit
        reason(i:i) = buffer(i)
      end do
    end if
  end function

  ! The analysis at the sensors after the last step: mean and stated uncertainty (1 sigma), config order.
  integer(c_int) function twin_sensor_estimates(t, mean, spread) result(status)
    type(c_ptr), intent(in) :: t
    real(c_double), intent(out) :: mean(:), spread(:)
    status = estimates(c_sensor_estimates, t, mean, spread)
  end function

  ! The estimated parameters: mean and stated uncertainty (1 sigma), ensemble.parameters order.
  integer(c_int) function twin_parameter_estimates(t, mean, spread) result(status)
    type(c_ptr), intent(in) :: t
    real(c_double), intent(out) :: mean(:), spread(:)
    status = estimates(c_parameter_estimates, t, mean, spread)
  end function

  integer(c_int) function estimates(f, t, mean, spread) result(status)
    procedure(c_sensor_estimates) :: f
    type(c_ptr), intent(in) :: t
    real(c_double), intent(out) :: mean(:), spread(:)
    if (size(spread) < size(mean)) then
      status = TWIN_ERROR_ARGUMENT
      return
    end if
    status = f(t, int(size(mean), c_size_t), mean, spread)
  end function

  integer(c_int) function twin_save_snapshot(t, state_dir) result(status)
    type(c_ptr), intent(in) :: t
    character(len=*), intent(in) :: state_dir
    status = c_save_snapshot(t, state_dir // c_null_char)
  end function

  integer(c_int) function twin_restore(t, state_dir) result(status)
    type(c_ptr), intent(in) :: t
    character(len=*), intent(in) :: state_dir
    status = c_restore(t, state_dir // c_null_char)
  end function

end module twinrt
