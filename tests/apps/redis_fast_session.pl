#!/usr/bin/perl
# A session of Redis::Fast calls against a healthy Redis, printing every
# result: run with and without the shim, the two outputs must be equal.
#   redis_fast_session.pl PORT
use strict;
use warnings;
use Redis::Fast;

my ($port) = @ARGV;
$| = 1;
my $r = Redis::Fast->new(server => "127.0.0.1:$port", name => 'session');
sub show {
    my ($what, @result) = @_;
    print "$what: ", join(',', map { defined $_ ? (ref $_ eq 'ARRAY' ? '[' . join(',', map { $_ // 'undef' } @$_) . ']' : $_) : 'undef' } @result), "\n";
}
sub try {
    my ($what, $code) = @_;
    my @result = eval { $code->() };
    if ($@) { my ($e) = split /\n/, $@; $e =~ s/ at \S+ line \d+\.?//; print "$what: error $e\n" } else { show($what, @result) }
}
try(ping => sub { $r->ping });
try(set => sub { $r->set('s', 'v1') });
try(get => sub { $r->get('s') });
try('get missing' => sub { $r->get('missing') });
try(incr => sub { $r->incr('n') for 1 .. 4; $r->incr('n') });
try('incr on a string' => sub { $r->incr('s') });
try(mget => sub { $r->mget('s', 'n', 'missing') });
try(rpush => sub { $r->rpush('l', 'a', 'b', 'c') });
try(lrange => sub { $r->lrange('l', 0, -1) });
try(hset => sub { $r->hset('h', 'f', 'x') });
try(hgetall => sub { my %h = $r->hgetall('h'); map { "$_=$h{$_}" } sort keys %h });
try(exists => sub { $r->exists('s', 'missing') });
try(expire => sub { $r->expire('s', 100) });
try(ttl => sub { $r->ttl('s') });
try(select => sub { $r->select(2) });
try('get in db 2' => sub { $r->get('s') });
try('select back' => sub { $r->select(0) });
try(del => sub { $r->del('s', 'n', 'l', 'h') });
try('unknown command' => sub { $r->__no_such_command('x') });
# pipelined: callbacks, then wait for all of them
my @piped;
$r->set("p$_", $_, sub { push @piped, "set:" . ($_[0] // 'undef') }) for 1 .. 3;
$r->get("p$_", sub { push @piped, "get:" . ($_[0] // 'undef') }) for 1 .. 3;
$r->wait_all_responses;
print "pipelined: @piped\n";
try(transaction => sub { $r->multi; $r->incr('t'); $r->incr('t'); $r->exec });
try(cleanup => sub { $r->del('p1', 'p2', 'p3', 't') });
$r->quit;
print "done\n";
