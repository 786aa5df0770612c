package istkvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watcher reports the names of files that are complete in a directory:
// inotify's IN_CLOSE_WRITE (a writer closed it: `echo ... > x.job`, cp) and
// IN_MOVED_TO (renamed into it: editors, kvbench's job adapter). fsnotify
// would be the library of choice, but it reports a file on IN_CREATE,
// before its content is written, and hides IN_CLOSE_WRITE; a job must not
// be run half written, so this is the ~80 lines of inotify it would wrap.
// An event-queue overflow, and a slow periodic tick as a safety net, ask
// for a rescan of the directory.
type watcher struct {
	f *os.File // the inotify descriptor, non-blocking, in Go's poller
}

// rescanEvery is the safety-net rescan period (a missed event delays a job
// by at most this much; an event costs nothing until then).
const rescanEvery = 2 * time.Second

func newWatcher(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("istkvs: inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_DELETE|unix.IN_MOVED_FROM); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("istkvs: watch %s: %w", dir, err)
	}
	return &watcher{f: os.NewFile(uintptr(fd), "inotify")}, nil
}

func (w *watcher) close() { w.f.Close() }

// run calls file for every completed file name, gone for every file
// removed or renamed away, and rescan after an overflow or every
// rescanEvery, until ctx ends or the watcher is closed.
func (w *watcher) run(ctx context.Context, file, gone func(name string), rescan func()) error {
	stop := context.AfterFunc(ctx, func() { w.f.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 64<<10)
	for {
		w.f.SetReadDeadline(time.Now().Add(rescanEvery))
		n, err := w.f.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			rescan()
			continue
		}
		if err != nil {
			return fmt.Errorf("istkvs: inotify: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				rescan()
			case ev.Mask&unix.IN_IGNORED != 0:
				return fmt.Errorf("istkvs: the watched directory went away")
			case len(name) > 0:
				if i := bytes.IndexByte(name, 0); i >= 0 {
					name = name[:i]
				}
				if ev.Mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0 {
					gone(string(name))
				} else {
					file(string(name))
				}
			}
		}
	}
}
