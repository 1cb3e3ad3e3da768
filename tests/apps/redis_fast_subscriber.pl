#!/usr/bin/perl
# Perl's Redis::Fast as a subscriber with auto-reconnect (Redis::Fast
# subscribes again by itself after reconnecting), waiting for messages on
# CHANNEL. One line per event: "subscribed", "message PAYLOAD"; exits 0
# after the message "quit", or prints "timeout" after 40 s in all.
#   redis_fast_subscriber.pl PORT CHANNEL
use strict;
use warnings;
use Redis::Fast;

my ($port, $channel) = @ARGV;
$| = 1;
my $deadline = time + 40;
my $redis = Redis::Fast->new(server => "127.0.0.1:$port", reconnect => 10, every => 100_000);
my $quit = 0;
$redis->subscribe($channel, sub {
    my ($message) = @_;
    print "message $message\n";
    $quit = 1 if $message eq 'quit';
});
print "subscribed\n";
until ($quit) {
    if (time >= $deadline) {
        print "timeout\n";
        exit 0;
    }
    eval { $redis->wait_for_messages(1) };
    if ($@) {
        my ($first) = split /\n/, $@;
        print "error $first\n";
        select(undef, undef, undef, 0.1);
    }
}
