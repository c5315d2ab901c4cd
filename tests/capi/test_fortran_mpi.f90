! The Fortran binding on MPI ranks: the communicator passes as Fortran's own handle
! (MPI_COMM_WORLD), every rank ingests (rank 0 its readings, the others none: the call is
! collective), steps and gets the same advice.
!   mpirun -n 2 test_fortran_mpi CONFIG.yaml
program test_fortran_mpi
  use mpi
  use twinrt
  implicit none
  type(c_ptr) :: t
  character(len=1024) :: config
  integer :: ierr, rank, c, mode, n, j
  real(c_double), allocatable :: controls(:), times(:), values(:), lowest(:), highest(:)
  integer, allocatable :: sensors(:)
  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call get_command_argument(1, config)
  if (twin_create(trim(config), t, comm=MPI_COMM_WORLD) /= TWIN_OK) then
    print '(a)', 'create: ' // twin_last_error()
    call MPI_Abort(MPI_COMM_WORLD, 1, ierr)
  end if
  n = twin_sensor_count(t)
  allocate(controls(twin_control_count(t)), lowest(twin_control_count(t)), highest(twin_control_count(t)))
  allocate(times(n), values(n), sensors(n))
  sensors = [(j, j = 1, n)]
  do c = 1, 5
    times = 10d0 * c
    values = 294d0 + 0.1d0 * sensors + 0.05d0 * c
    if (rank == 0) then
      ierr = twin_ingest(t, times, sensors, values)
    else
      ierr = twin_ingest(t, times(1:0), sensors(1:0), values(1:0))
    end if
    if (ierr /= TWIN_OK) call MPI_Abort(MPI_COMM_WORLD, 1, ierr)
    if (twin_step(t, 5000d0, controls, mode) /= TWIN_OK) then
      print '(a)', 'step: ' // twin_errmsg(t)
      call MPI_Abort(MPI_COMM_WORLD, 1, ierr)
    end if
    ! every rank has the same advice
    call MPI_Allreduce(controls, lowest, size(controls), MPI_DOUBLE_PRECISION, MPI_MIN, MPI_COMM_WORLD, ierr)
    call MPI_Allreduce(controls, highest, size(controls), MPI_DOUBLE_PRECISION, MPI_MAX, MPI_COMM_WORLD, ierr)
    if (any(lowest /= highest)) then
      print '(a,i0)', 'ranks disagree on the advice at cycle ', c
      call MPI_Abort(MPI_COMM_WORLD, 1, ierr)
    end if
  end do
  if (twin_cycle(t) /= 5) call MPI_Abort(MPI_COMM_WORLD, 1, ierr)
  if (rank == 0) print '(a,i0,a,i0)', 'test_fortran_mpi: passed, cycle ', twin_cycle(t), ' mode=', mode
  call twin_destroy(t)
  call MPI_Finalize(ierr)
end program test_fortran_mpi
