// Package fifo is a first-in first-out queue on a ring buffer that grows
// by doubling: the queue of requests in flight that a pipelining client
// (impls.Pipeliner) or the driver's pipelined loop keeps, oldest first.
// Pushing into a queue that has room and popping allocate nothing.
package fifo

// Queue is a FIFO of T; the zero value is an empty queue.
type Queue[T any] struct {
	buf     []T
	head, n int
}

// Len returns the number of elements queued.
func (q *Queue[T]) Len() int { return q.n }

// Push appends v, growing the ring when it is full.
func (q *Queue[T]) Push(v T) {
	if q.n == len(q.buf) {
		q.grow(max(4, 2*len(q.buf)))
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
}

// Reserve makes room for n elements in all, so that pushes up to that
// length do not allocate.
func (q *Queue[T]) Reserve(n int) {
	if n > len(q.buf) {
		q.grow(n)
	}
}

func (q *Queue[T]) grow(size int) {
	buf := make([]T, size)
	for i := range q.n {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
}

// Pop removes and returns the oldest element; the queue must not be empty.
// The vacated cell is zeroed, so the queue keeps nothing alive.
func (q *Queue[T]) Pop() T {
	if q.n == 0 {
		panic("fifo: Pop of an empty queue")
	}
	v := q.buf[q.head]
	var zero T
	q.buf[q.head] = zero
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return v
}

// At returns a pointer to the i-th oldest element (0 is the oldest), for
// updating it in place; i must be below Len.
func (q *Queue[T]) At(i int) *T {
	if i < 0 || i >= q.n {
		panic("fifo: index out of range")
	}
	return &q.buf[(q.head+i)%len(q.buf)]
}
