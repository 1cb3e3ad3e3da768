# A Ruby program on Debian's hiredis driver (ruby-hiredis: Hiredis::Ext::
# Connection, which appends commands and then does its own I/O through
# redisBufferWrite, redisBufferRead and redisGetReplyFromReader), written
# as a new user writes one: a loop of GET k, and SET w every fourth round,
# that reconnects after any error and goes on.
#
#   ruby hiredis_rb_loop.rb PORT ROUNDS PAUSE_S [ROUND=ACTION ...]
#
# Before round ROUND, the shell command ACTION runs (the test's kill,
# freeze, thaw or restart of its server), without the shim.
# One line per round: "N get V [set V] [MS ms]" or "N error CLASS [MS ms]".
require "hiredis"

port = Integer(ARGV[0])
rounds = Integer(ARGV[1])
pause = Float(ARGV[2])
actions = ARGV[3..].to_h { |a| r, act = a.split("=", 2); [Integer(r), act] }
$stdout.sync = true
conn = nil
rounds.times do |i|
  if actions[i]
    system({ "LD_PRELOAD" => nil }, actions[i]) or abort "action #{actions[i]} failed"
    puts "#{i} action"
  end
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  begin
    if conn.nil?
      conn = Hiredis::Connection.new
      conn.connect("127.0.0.1", port)
    end
    conn.write(["GET", "k"])
    line = "get #{conn.read.inspect}"
    if (i % 4).zero?
      conn.write(["SET", "w", "v#{i}"])
      line += " set #{conn.read.inspect}"
    end
  rescue StandardError => e
    conn = nil
    line = "error #{e.class}"
  end
  took = ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000).round(1)
  puts "#{i} #{line} [#{took} ms]"
  sleep pause
end
