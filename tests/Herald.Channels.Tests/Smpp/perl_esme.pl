#!/usr/bin/perl
# An ESME written with Net::SMPP (libnet-smpp-perl): binds as a transceiver to the SMSC on 127.0.0.1:PORT,
# submits one message, prints the submit_sm_resp, waits for the delivery receipt, acknowledges it, unbinds.
use strict;
use warnings;
use Net::SMPP;

$| = 1;
my ($port, $to, $text) = @ARGV;
my ($smpp, $bind) = Net::SMPP->new_transceiver('127.0.0.1', port => $port, system_id => 'perlesme',
    password => 'pw', smpp_version => 0x34, timeout => 10);
die "connect failed: $!" unless $smpp;
print "BIND_RESP status=", $bind->{status}, " system_id=", ($bind->{system_id} // ''), "\n";
my $resp = $smpp->submit_sm(source_addr => 'BANK', source_addr_ton => 5, dest_addr_ton => 1, dest_addr_npi => 1,
    destination_addr => $to, data_coding => 0, registered_delivery => 1, short_message => $text)
    or die "submit_sm failed";
print "SUBMIT_RESP status=", $resp->{status}, " id=", ($resp->{message_id} // ''), "\n";
while (my $pdu = $smpp->read_pdu()) {
    if ($pdu->{cmd} == 0x00000005) {
        my $state = defined $pdu->{message_state} ? unpack('C', $pdu->{message_state}) : -1;
        my $rid = $pdu->{receipted_message_id} // '';
        $rid =~ s/\0$//;
        print "RECEIPT esm=$pdu->{esm_class} receipted_message_id=$rid message_state=$state text=$pdu->{short_message}\n";
        $smpp->deliver_sm_resp(seq => $pdu->{seq}, message_id => '');
        last;
    } elsif ($pdu->{cmd} == 0x00000015) {
        $smpp->enquire_link_resp(seq => $pdu->{seq});
    }
}
my $unbind = $smpp->unbind();
print "UNBIND_RESP status=", (defined $unbind ? $unbind->{status} : 'none'), "\n";
