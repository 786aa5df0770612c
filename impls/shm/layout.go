package shm

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The byte layout of the shared region (specs/shm.md). Every offset is from
// the start of the region; every field is little-endian (the only byte order
// kvbench runs on, and the one the course's C structs have on x86 and arm64).
const (
	// DescSize is sizeof(struct buffer_descriptor): req_type, k, v, res_off, ready.
	DescSize = 20
	// RingSize is RING_SIZE, the number of descriptors in the ring; the ring
	// holds at most RingSize-1 requests.
	RingSize = 1024
	// RingBytes is sizeof(struct ring): four 64-byte index lines and the
	// descriptor array. The status board starts here.
	RingBytes = RingBufOff + RingSize*DescSize

	// Index words, each alone in its 64-byte line (packed, aligned(64)).
	OffPTail   = 0
	OffPHead   = 64
	OffCTail   = 128
	OffCHead   = 192
	RingBufOff = 256

	// Fields of a descriptor, relative to the descriptor.
	FieldType   = 0
	FieldKey    = 4
	FieldValue  = 8
	FieldResOff = 12
	FieldReady  = 16

	// Request types (enum REQUEST_TYPE).
	TypePut = 0
	TypeGet = 1
)

// kvbench extension words. They live in the padding of the ring's index
// lines (char pad1[60] after p_tail, pad3[60] after c_tail), which the
// course's C code never reads or writes, so a C peer is unaffected: it
// neither sees these words nor needs them. Each is a u32, zero in a fresh
// file.
const (
	// offPTailWaiters counts threads parked in FUTEX_WAIT on p_tail
	// (consumers waiting for a request, producers waiting for their turn to
	// publish). A producer that advances p_tail wakes them only when it is
	// non-zero, so the common case costs no system call.
	offPTailWaiters = OffPTail + 4
	// offEpoch is incremented by every kvbench server when it starts on the
	// file (after repairing the consumer indices). Its readiness probe and a
	// client's crash recovery read it.
	offEpoch = OffPTail + 8
	// offDrained is set to the server's epoch once it has answered every
	// request that was in the ring when it started: from then on, a request
	// published before that server started and still unanswered was taken by
	// a dead server and is lost for good.
	offDrained = OffPTail + 12
	// offBad counts malformed descriptors the server skipped.
	offBad = OffPTail + 16
	// offAwake counts the server's threads that are not parked on p_tail
	// (set to its thread count when a server starts). A producer wakes the
	// p_tail waiters only when it is zero: an awake thread looks at p_tail
	// before it parks, so it takes the request (see region.produce).
	offAwake = OffPTail + 20
	// offClientWake is the word a client's poller parks on; a server that
	// answers a slot the poller watches increments it and wakes the poller.
	offClientWake = OffCHead + 4
	// offCTailWaiters counts threads parked on c_tail (producers waiting for
	// room, consumers waiting for their turn to release).
	offCTailWaiters = OffCTail + 4
)

// readyParked is a value our client's poller stores in a status slot's
// ready word (with a CAS from 0) before it parks; a kvbench server swaps
// ready to 1, sees the mark and wakes the poller (offClientWake). A C server
// simply overwrites it with 1 and the poller's bounded park notices.
const readyParked = ^uint32(0) // -1 as an i32

// RegionSize returns the size of the region for clients threads with window
// slots each: the ring followed by the status board.
func RegionSize(clients, window int) int { return RingBytes + clients*window*DescSize }

// ResOff returns the status slot offset of request number seq of client
// thread tid with window w: 20736 + tid*w*20 + (seq%w)*20 (the course's
// formula).
func ResOff(tid, w, seq int) int { return RingBytes + tid*w*DescSize + (seq%w)*DescSize }

// ValidResOff reports whether off names a whole status slot of a region of
// size bytes: inside the board and a multiple of DescSize from its start.
func ValidResOff(off int32, size int) bool {
	o := int(off)
	return o >= RingBytes && o <= size-DescSize && (o-RingBytes)%DescSize == 0
}

// Desc is one buffer_descriptor, unpacked.
type Desc struct {
	Type, Key, Value uint32
	ResOff           int32
	Ready            int32
}

// region is a mapping of the whole shared file. Index words and ready flags
// are accessed only with sync/atomic; descriptor payloads (type, key, value,
// res_off) with plain loads and stores ordered by those atomics (see doc.go,
// "Memory ordering").
type region struct {
	mem []byte
}

// errSize is returned for a file whose size cannot hold a region.
var errSize = errors.New("shm: file size is not 20736 + a multiple of 20")

// createFile creates path (which must not exist), mode 0600, sized and
// zeroed for clients*window slots, as the course's client does.
func createFile(path string, clients, window int) error {
	return createSized(path, RegionSize(clients, window))
}

// createSized creates path (which must not exist), mode 0600, of size
// zero bytes.
func createSized(path string, size int) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// validSize reports whether a file of size bytes holds a region: the ring
// and a whole number of status slots, mappable in one piece.
func validSize(size int64) bool {
	return size >= RingBytes && (size-RingBytes)%DescSize == 0 && size <= 1<<31-1
}

// mapFile maps the whole existing file at path, read-write and shared. The
// size must be RingBytes plus a whole number of slots.
func mapFile(path string) (*region, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if !validSize(size) {
		return nil, fmt.Errorf("%s: %d bytes: %w", path, size, errSize)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return &region{mem: mem}, nil
}

// unmap releases the mapping; the region must not be used afterwards.
func (r *region) unmap() error {
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem = nil
	return err
}

// size is the region's size in bytes.
func (r *region) size() int { return len(r.mem) }

// slots is the number of status slots on the board.
func (r *region) slots() int { return (len(r.mem) - RingBytes) / DescSize }

// word returns the u32 at off. off must be 4-aligned and inside the region
// (indexing panics otherwise, so a bug cannot touch memory outside it).
func (r *region) word(off int) *uint32 {
	_ = r.mem[off+3]
	return (*uint32)(unsafe.Pointer(&r.mem[off]))
}

// Words used by the ring protocol.
func (r *region) pTail() *uint32 { return r.word(OffPTail) }
func (r *region) pHead() *uint32 { return r.word(OffPHead) }
func (r *region) cTail() *uint32 { return r.word(OffCTail) }
func (r *region) cHead() *uint32 { return r.word(OffCHead) }

// bufOff is the offset of ring entry i.
func bufOff(i uint32) int { return RingBufOff + int(i%RingSize)*DescSize }

// readPayload copies type, key, value and res_off of the descriptor at off
// into *d with plain loads (writePayload's mirror). The caller has
// established, through an atomic load, that the writer is done.
// (Descriptors go by pointer on the hot paths: a Desc returned or passed by
// value was stored field by field and then copied with wider loads, which
// cannot be forwarded from those stores; perf put a fifth of a pipelined
// client's shm samples on such copies.)
func (r *region) readPayload(off int, d *Desc) {
	_ = r.mem[off+DescSize-1] // one bounds check for the loads
	d.Type = *r.word(off + FieldType)
	d.Key = *r.word(off + FieldKey)
	d.Value = *r.word(off + FieldValue)
	d.ResOff = int32(*r.word(off + FieldResOff))
}

// readDesc copies the whole descriptor at off, ready included, into *d.
func (r *region) readDesc(off int, d *Desc) {
	r.readPayload(off, d)
	d.Ready = int32(*r.word(off + FieldReady))
}

// writePayload stores type, key, value and res_off of d at off with plain
// stores; the caller publishes them with an atomic store afterwards.
func (r *region) writePayload(off int, d *Desc) {
	_ = r.mem[off+DescSize-1]
	*r.word(off + FieldType) = d.Type
	*r.word(off + FieldKey) = d.Key
	*r.word(off + FieldValue) = d.Value
	*r.word(off + FieldResOff) = uint32(d.ResOff)
}

// ready returns the ready word of the slot at off.
func (r *region) ready(off int) *uint32 { return r.word(off + FieldReady) }

// load and store are the atomic accessors of the protocol words.
func load(p *uint32) uint32     { return atomic.LoadUint32(p) }
func store(p *uint32, v uint32) { atomic.StoreUint32(p, v) }

// next is the ring's successor function on indices in [0, RingSize).
func next(i uint32) uint32 { return (i + 1) % RingSize }
