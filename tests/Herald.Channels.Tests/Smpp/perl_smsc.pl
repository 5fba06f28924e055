#!/usr/bin/perl
# A minimal SMSC written with Net::SMPP's server mode (libnet-smpp-perl), to check Herald's SMPP client against an
# implementation not written here. Listens on 127.0.0.1 (a free port, printed as "PORT n"), accepts one ESME,
# answers bind_transceiver (checking the password given as the first argument), answers each submit_sm with
# message_id "perl-N" and then sends a deliver_sm receipt for it (classic text plus TLVs). Prints one line per event.
use strict;
use warnings;
use Net::SMPP;

$| = 1;
my $expected_password = shift // '';
my $srv = Net::SMPP->new_listen('127.0.0.1', port => 0, smpp_version => 0x34) or die "listen: $!";
print "PORT ", $srv->sockport, "\n";
my $conn = $srv->accept or die "accept: $!";
my $n = 0;
while (my $pdu = $conn->read_pdu()) {
    my $cmd = $pdu->{cmd};
    if ($cmd == 0x00000009) {
        my $ok = $pdu->{password} eq $expected_password ? 1 : 0;
        print "BIND system_id=$pdu->{system_id} password_ok=$ok version=$pdu->{interface_version}\n";
        $conn->bind_transceiver_resp(seq => $pdu->{seq}, system_id => 'perlsmsc', status => $ok ? 0 : 0x0E);
    } elsif ($cmd == 0x00000004) {
        $n++;
        my $id = "perl-$n";
        printf "SUBMIT id=%s dest=%s dest_ton=%d dest_npi=%d source=%s source_ton=%d esm=%d dc=%d rd=%d sm=%s\n",
            $id, $pdu->{destination_addr}, $pdu->{dest_addr_ton}, $pdu->{dest_addr_npi}, $pdu->{source_addr},
            $pdu->{source_addr_ton}, $pdu->{esm_class}, $pdu->{data_coding}, $pdu->{registered_delivery},
            unpack('H*', $pdu->{short_message});
        $conn->submit_sm_resp(seq => $pdu->{seq}, message_id => $id);
        my $text = "id:$id sub:001 dlvrd:001 submit date:2511242330 done date:2511242331 stat:DELIVRD err:000 text:";
        my $seq = $conn->deliver_sm(
            async => 1,
            source_addr_ton => 1, source_addr_npi => 1, source_addr => $pdu->{destination_addr},
            dest_addr_ton => $pdu->{source_addr_ton}, dest_addr_npi => $pdu->{source_addr_npi},
            destination_addr => $pdu->{source_addr},
            esm_class => 0x04, data_coding => 0, short_message => $text,
            receipted_message_id => "$id\0", message_state => pack('C', 2));
        print "DELIVER seq=$seq id=$id\n";
    } elsif ($cmd == 0x80000005) {
        print "DELIVER_RESP seq=$pdu->{seq} status=$pdu->{status}\n";
    } elsif ($cmd == 0x00000015) {
        $conn->enquire_link_resp(seq => $pdu->{seq});
        print "ENQUIRE_LINK\n";
    } elsif ($cmd == 0x00000006) {
        $conn->unbind_resp(seq => $pdu->{seq});
        print "UNBIND\n";
        last;
    } else {
        printf "OTHER cmd=0x%08x\n", $cmd;
    }
}
print "END\n";
