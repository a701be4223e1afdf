#!/usr/bin/perl
# Runs Debian's Sisimai (libsisimai-perl, 4.25) over the hand-labelled development corpus
# tests/data/replies_reasons.tsv and prints how often it finds both codes and the reason, and how
# long it takes per reply. It is the Sisimai half of the side-by-side benchmark of issue 12: the C
# benchmark prints our figures for the same corpus beside these.
#
# For each reply, the codes come from Sisimai's own finders, Sisimai::SMTP::Reply->find (the basic
# code) and Sisimai::SMTP::Status->find (the enhanced code), and the reason from
# Sisimai::Reason->match, the call Sisimai offers for a bare error text. Sisimai's reason names are
# mapped to the 18 reasons of issue 12 by %REASON_MAP below.
#
# Usage: sisimai_reasons.pl [--verbose] [--corpus FILE]
# Prints on stdout:
#   sisimai_codes_accuracy 0.xx    (basic and enhanced both exactly right)
#   sisimai_reason_accuracy 0.xx
#   sisimai_ns_per_reply NNNN      (median of 5 timed runs; codes and reason for one reply)
# With --verbose, a per-reason breakdown and every miss go to stderr.
#
# Runs with /usr/bin/perl and Debian packages only (libsisimai-perl).
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use Getopt::Long;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
use Sisimai::Reason;
use Sisimai::SMTP::Reply;
use Sisimai::SMTP::Status;

# Sisimai 4.25 reason -> issue 12 reason. Sisimai has no reason for greylisting, TLS or 3yz
# replies, so those cases count as misses whatever it answers.
my %REASON_MAP = (
    'delivered'       => 'success',          # 2yz: the message was accepted
    'userunknown'     => 'bad-mailbox',      # the recipient does not exist
    'hasmoved'        => 'bad-mailbox',      # the recipient moved (551 / X.1.6): address gone
    'suspend'         => 'mailbox-disabled', # the mailbox is suspended or disabled
    'mailboxfull'     => 'mailbox-full',     # the recipient's mailbox is over quota
    'mesgtoobig'      => 'message-too-big',  # the message is larger than the server accepts
    'exceedlimit'     => 'message-too-big',  # the message exceeds the recipient's size limit
    'rejected'        => 'bad-sender',       # Sisimai: the envelope sender was refused
    'blocked'         => 'policy',           # client IP / host name / HELO refused
    'spamdetected'    => 'policy',           # spam filter
    'virusdetected'   => 'policy',           # virus filter
    'policyviolation' => 'policy',           # local policy
    'filtered'        => 'policy',           # recipient-side filter or access rule
    'securityerror'   => 'auth',             # authentication failures (SMTP AUTH, SPF/DKIM)
    'norelaying'      => 'routing',          # relay denied
    'hostunknown'     => 'routing',          # the recipient domain does not resolve
    'networkerror'    => 'routing',          # DNS, loops, network on the way to the host
    'notaccept'       => 'routing',          # the domain accepts no mail (null MX, 521, 556)
    'toomanyconn'     => 'rate-limit',       # too many connections or messages
    'expired'         => 'expired',          # delivery time expired in the queue
    'systemerror'     => 'server-error',     # the receiver's own fault
    'systemfull'      => 'server-error',     # the receiver's disk or system is full
    'syntaxerror'     => 'protocol',         # command syntax or sequence error
    'contenterror'    => 'content',          # message format, headers, 8-bit data
    'mailererror'     => 'other',            # a local mailer program failed
    'onhold'          => 'other',            # Sisimai could not decide
    'undefined'       => 'other',            # Sisimai could not decide
    'vacation'        => 'other',            # an auto-reply, not a failure reason
    'feedback'        => 'other',            # an ARF report
);

# Reads the corpus. The format is documented in the file's header; in short: lines starting with
# '#' and empty lines are skipped, every other line has eight TAB-separated columns
#   name reply basic enhanced reason retry recipient_invalid source
# and the reply column uses the escapes \r \n \t \\ and \xHH. A C reader needs only strtok on
# '\t' and the same five escapes. Returns a list of hash references.
sub read_corpus {
    my ($path) = @_;
    open(my $fh, '<', $path) or die "$path: $!\n";
    my @cases;
    while (my $line = <$fh>) {
        chomp $line;
        next if $line eq '' || $line =~ /\A#/;
        my @f = split /\t/, $line, -1;
        die "$path:$.: expected 8 columns, got " . scalar(@f) . "\n" unless @f == 8;
        push @cases, {
            name => $f[0], reply => unescape($f[1]), basic => $f[2] + 0,
            enhanced => $f[3], reason => $f[4], line => $.,
        };
    }
    close $fh;
    return @cases;
}

sub unescape {
    my ($s) = @_;
    my %simple = ('r' => "\r", 'n' => "\n", 't' => "\t", '\\' => '\\');
    $s =~ s/\\(x([0-9A-Fa-f]{2})|[rnt\\])/defined $2 ? chr(hex $2) : $simple{$1}/ge;
    return $s;
}

# What Sisimai says about one reply: (basic, enhanced, sisimai reason). A code not found is 0 or
# '-', as in the corpus.
sub sisimai_answer {
    my ($text) = @_;
    my $basic = Sisimai::SMTP::Reply->find($text);
    my $enh = Sisimai::SMTP::Status->find($text);
    my $reason = Sisimai::Reason->match($text);
    return (($basic // '') eq '' ? 0 : $basic + 0, ($enh // '') eq '' ? '-' : $enh,
            $reason // '');
}

sub now_ns { return clock_gettime(CLOCK_MONOTONIC) * 1e9 }

# Times Sisimai's two finders and the reason match over every reply, $rounds times over the
# corpus; returns nanoseconds per reply.
sub time_rounds {
    my ($texts, $rounds) = @_;
    my $t0 = now_ns();
    for (1 .. $rounds) {
        for my $t (@$texts) {
            Sisimai::SMTP::Reply->find($t);
            Sisimai::SMTP::Status->find($t);
            Sisimai::Reason->match($t);
        }
    }
    return (now_ns() - $t0) / ($rounds * @$texts);
}

my $verbose = 0;
my $corpus = File::Spec->catfile(dirname(__FILE__), File::Spec->updir, 'data',
                                 'replies_reasons.tsv');
GetOptions('verbose' => \$verbose, 'corpus=s' => \$corpus)
    or die "usage: $0 [--verbose] [--corpus FILE]\n";

my @cases = read_corpus($corpus);
die "$corpus: no cases\n" unless @cases;

my ($codes_ok, $reason_ok) = (0, 0);
my (%per_total, %per_ok);
for my $c (@cases) {
    my ($b, $e, $sr) = sisimai_answer($c->{reply});
    my $ours = $REASON_MAP{$sr} // 'other';
    my $cok = ($b == $c->{basic} && $e eq $c->{enhanced});
    my $rok = ($ours eq $c->{reason});
    $codes_ok++ if $cok;
    $reason_ok++ if $rok;
    $per_total{$c->{reason}}++;
    $per_ok{$c->{reason}}++ if $rok;
    if ($verbose && (!$cok || !$rok)) {
        printf STDERR "miss %s (line %d): codes %s %s want %s %s; reason %s (%s) want %s\n",
            $c->{name}, $c->{line}, $b, $e, $c->{basic}, $c->{enhanced}, $ours,
            $sr eq '' ? 'none' : $sr, $c->{reason};
    }
}

if ($verbose) {
    printf STDERR "%-17s %5s %5s %6s\n", 'reason', 'cases', 'right', 'share';
    for my $r (sort keys %per_total) {
        my $ok = $per_ok{$r} // 0;
        printf STDERR "%-17s %5d %5d %6.2f\n", $r, $per_total{$r}, $ok, $ok / $per_total{$r};
    }
}

# Speed: pick a round count that makes one run last about 1.2 s (5 runs stay under 10 s with
# the calibration), then report the median of 5 runs.
my @texts = map { $_->{reply} } @cases;
my $probe = time_rounds(\@texts, 1);
my $rounds = int(1.2e9 / ($probe * @texts));
$rounds = 1 if $rounds < 1;
$rounds = 1000 if $rounds > 1000;
my @runs = sort { $a <=> $b } map { time_rounds(\@texts, $rounds) } 1 .. 5;

printf "sisimai_codes_accuracy %.2f\n", $codes_ok / @cases;
printf "sisimai_reason_accuracy %.2f\n", $reason_ok / @cases;
printf "sisimai_ns_per_reply %d\n", $runs[2];
printf STDERR "cases %d, rounds per run %d, runs (ns/reply) %s\n", scalar(@cases), $rounds,
    join(' ', map { int } @runs) if $verbose;
