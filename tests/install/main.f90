! A Fortran program on the installed C API (twinrt::c and the installed twinrt.f90): the config
! given on the command line, two cycles on a single process.
program consumer
  use twinrt
  implicit none
  type(c_ptr) :: t
  character(len=1024) :: config
  real(c_double), allocatable :: controls(:), times(:), values(:)
  integer, allocatable :: sensors(:)
  integer :: c, mode, n
  call get_command_argument(1, config)
  if (twin_create(trim(config), t) /= TWIN_OK) then
    print '(a)', 'create failed: ' // twin_last_error()
    error stop 1
  end if
  n = twin_sensor_count(t)
  allocate(controls(twin_control_count(t)), times(n), values(n), sensors(n))
  sensors = [(c, c = 1, n)]
  values = 294d0
  do c = 1, 2
    times = 10d0 * c
    if (twin_ingest(t, times, sensors, values) /= TWIN_OK) error stop 'ingest'
    if (twin_step(t, 2000d0, controls, mode) /= TWIN_OK) error stop 'step'
  end do
  print '(a,a,a,i0,a,i0)', 'Fortran consumer: twinrt ', twin_version_string(), ', cycle ', twin_cycle(t), ' mode=', mode
  call twin_destroy(t)
end program consumer
