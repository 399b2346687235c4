package cache

import "syscall"

func ctime(st *syscall.Stat_t) (sec, nsec int64, ok bool) {
	return int64(st.Ctim.Sec), int64(st.Ctim.Nsec), true
}
