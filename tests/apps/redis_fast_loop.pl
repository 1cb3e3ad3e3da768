#!/usr/bin/perl
# Perl's Redis::Fast (Debian's libredis-fast-perl, on Debian's hiredis,
# which it drives with its own poll loop) reading one key every 50 ms
# until STOPFILE exists, as a long-running Perl service would. One line
# per read: "value V", "nil" or "error E".
#   redis_fast_loop.pl PORT KEY STOPFILE
use strict;
use warnings;
use Redis::Fast;

my ($port, $key, $stop) = @ARGV;
$| = 1;
my $redis = Redis::Fast->new(server => "127.0.0.1:$port", reconnect => 2, every => 100_000);
until (-e $stop) {
    my $value = eval { $redis->get($key) };
    if ($@) {
        my ($first) = split /\n/, $@;
        print "error $first\n";
    } else {
        print defined $value ? "value $value\n" : "nil\n";
    }
    select(undef, undef, undef, 0.05);
}
