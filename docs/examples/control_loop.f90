! Embedding twinrt in a Fortran control loop through the twinrt module (src/capi/twinrt.f90):
! read sensors, ingest, step, apply the advice, on a single process. The "facility" is a toy
! lumped model. Built and run by the tests (example_control_loop_fortran), which also check that
! a bad configuration comes back as a status with its message.
!
!   build/bin/example_control_loop_fortran tests/data/small_plate.yaml 10
program control_loop
  use twinrt
  implicit none
  type(c_ptr) :: t
  character(len=1024) :: config, arg
  character(len=256) :: reason
  integer :: cycles, c, s, mode, n_sensors, n_controls
  real(c_double), allocatable :: temperature(:), times(:), controls(:), mean(:), spread(:)
  integer, allocatable :: sensors(:)
  real(c_double) :: heat, period

  call get_command_argument(1, config)
  cycles = 10
  if (command_argument_count() > 1) then
    call get_command_argument(2, arg)
    read (arg, *) cycles
  end if

  ! A bad configuration is a status and a message, not an abort.
  if (twin_create('/nonexistent/twin.yaml', t) /= TWIN_ERROR_CONFIG) error stop 'a missing config was not TWIN_ERROR_CONFIG'
  if (index(twin_last_error(), '/nonexistent/twin.yaml') == 0) error stop 'the message does not name the file'

  if (twin_create(trim(config), t) /= TWIN_OK) then
    print '(a)', 'example_control_loop_fortran: ' // twin_last_error()
    error stop 1
  end if
  n_sensors = twin_sensor_count(t)
  n_controls = twin_control_count(t)
  allocate(temperature(n_sensors), times(n_sensors), sensors(n_sensors), mean(n_sensors), spread(n_sensors))
  allocate(controls(n_controls))
  temperature = 294.15d0
  controls = 0d0
  period = 10d0
  sensors = [(s, s = 1, n_sensors)]
  do c = 1, cycles
    heat = sum(controls)
    temperature = temperature + period * (0.02d0 * heat - 1d-3 * (temperature - 293.15d0))
    times = c * period
    if (twin_ingest(t, times, sensors, temperature) /= TWIN_OK) then
      print '(a)', 'ingest: ' // twin_errmsg(t)
      error stop 1
    end if
    if (twin_step(t, 2000d0, controls, mode, reason) /= TWIN_OK) then
      print '(a)', 'step: ' // twin_errmsg(t)
      error stop 1
    end if
    if (any(controls < 0d0) .or. any(controls > 1.5d0)) error stop 'advice outside the envelope'
    if (twin_sensor_estimates(t, mean, spread) /= TWIN_OK) error stop 'estimates'
    print '(a,i0,a,i0,a,f6.3,a,f8.2,a,f5.2,a,a)', 'cycle ', twin_cycle(t), ' mode=', mode, ' H1=', controls(1), &
      ' first sensor ', mean(1), ' +- ', spread(1), ' ', trim(reason)
  end do
  if (twin_cycle(t) /= cycles) error stop 'cycle count'
  call twin_destroy(t)
end program control_loop
