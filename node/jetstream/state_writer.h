// Internal to meridian_node_jetstream: durable replacement of small state files (consumer
// state) off the engine's thread. One thread per engine writes queued files with
// store::WriteFileAtomic (tmp, fdatasync, rename, directory fsync), in queue order, and reports
// each finished write back (the engine collects the reports on its own thread). The pattern is
// the FileStore sync thread's group commit: whatever a caller wants written while a write is in
// flight goes into the next one, so the engine's thread never waits for a disk.
// It also appends records to ack logs (`QueueAppend`: one write into reserved space plus one
// fdatasync of that file, see ack_log.h); a replace that names a log (`rewind_log`) makes the
// next append to that log start again at offset 0 once the replace is durable.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/file_io.h"
#include "store/status.h"

namespace meridian::jetstream {

class StateWriter {
 public:
  struct Done {
    uint64_t key = 0;     // the caller's key (e.g. a consumer's id)
    uint64_t ticket = 0;  // what Queue returned
    bool ok = false;
  };

  // `written` is called on the writer thread after each finished write (may be empty).
  StateWriter(store::FileIo& io, std::function<void()> written);
  ~StateWriter();  // writes what is queued, then stops
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  // Queues a durable replacement of `path` (in directory `dir`) by `data`; a queued, not yet
  // started write of the same path is dropped (this one supersedes it). Returns its ticket
  // (increasing from 1).
  uint64_t Queue(uint64_t key, const std::string& path, const std::string& dir, std::string data,
                 std::string rewind_log = {});
  // Queues an append of `record` to the log `path` (in directory `dir`): written after the end
  // of the log's valid records (found by ScanAckLog when the writer first opens it; 0 after a
  // rewind), then fdatasync'ed (the directory is fsynced once when the writer first opens
  // it). Space is reserved ahead by writing zeros (see Append). Returns its ticket.
  uint64_t QueueAppend(uint64_t key, const std::string& path, const std::string& dir,
                       std::string record);
  // The next append to log `path` starts at offset 0 (the caller has just made a state file
  // durable that supersedes every record in it). Call only when no write of it is in flight
  // (after Forget).
  void RewindLog(const std::string& path);
  // Drops queued writes of `path` (every path starting with `path` when `prefix`) and waits
  // until no write of such a path is in flight: afterwards the caller owns those files (writes
  // them itself, removes them). Open logs among them are closed.
  void Forget(const std::string& path, bool prefix = false);
  // Waits until everything queued so far is written.
  void Drain();
  // The writes finished since the last call, in the order they finished.
  std::vector<Done> TakeDone();

  store::FileIo& io() { return io_; }

 private:
  struct Item {
    uint64_t key = 0, ticket = 0;
    std::string path, dir, data;
    bool append = false;
    std::string rewind_log;
  };
  struct Log {
    int fd = -1;
    bool positioned = false;  // `end` known (after a scan or a rewind)
    uint64_t end = 0;         // where the next record goes
    uint64_t reserved = 0;    // file length reserved (zeros written and synced)
    bool reserve = true;      // false once reserving failed
  };
  void Run();
  bool Append(const Item& item);  // on the writer thread, without mu_
  bool Matches(const std::string& p, const std::string& path, bool prefix) const {
    return prefix ? p.compare(0, path.size(), path) == 0 : p == path;
  }

  store::FileIo& io_;
  std::function<void()> written_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::string in_flight_;  // path being written ("" none)
  bool busy_ = false;
  bool stop_ = false;
  uint64_t next_ticket_ = 1;
  std::vector<Done> done_;
  std::map<std::string, Log> logs_;  // by path; touched by the writer thread, or under mu_
                                     // when no write of that path is in flight
  std::thread thread_;
};

}  // namespace meridian::jetstream
