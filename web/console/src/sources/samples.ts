// Settings for a new source and a sample document, per adapter (docs/INTEGRATIONS.md; the same documents as
// tests/Herald.Ingest.Tests/Fixtures). Each batch sample holds one item that its default settings reject (a bad phone
// number, an account the settings do not list, an unmapped kind), so the per-item report shows both outcomes.

export const adapters = ["native", "mapped", "iso20022", "file"] as const;
export type Adapter = (typeof adapters)[number];

export const adapterLabels: Record<Adapter, string> = {
  native: "native (Herald's JSON)",
  mapped: "mapped (your JSON)",
  iso20022: "iso20022 (camt.054 XML)",
  file: "file (CSV or fixed width)",
};

const json = (value: unknown) => JSON.stringify(value, null, 2);

export const defaultSettings: Record<Adapter, string> = {
  native: "{}",
  mapped: json({
    mapping: {
      items: "/alerts",
      type: { const: "fraud.alert" },
      externalId: "/alertId",
      priority: { from: "/severity", map: { HIGH: "critical", MEDIUM: "high", LOW: "normal" }, default: "high" },
      customer: { id: "/customer/id", phone: "/customer/contact/msisdn" },
      data: { text: "/message", score: "/score" },
    },
  }),
  iso20022: json({ accounts: { DE89370400440532013000: { phone: "+4915112345678", language: "de" } }, customerIdFromAccount: false }),
  file: json({
    layout: { format: "csv", delimiter: ";", header: true, idColumn: "booking_id" },
    mapping: {
      type: { from: "/kind", map: { C: "account.credit", D: "account.debit" } },
      customer: { id: "/customer_no", phone: "/mobile", email: "/email" },
      data: { amount: "/amount", currency: "/currency", text: "/text" },
    },
  }),
};

/** A run number keeps each sample's external ids new, so a second send is accepted again rather than a duplicate. */
export function sampleOf(adapter: Adapter, settings: unknown, run: string): { body: string; contentType: string } {
  switch (adapter) {
    case "native":
      return {
        contentType: "application/json",
        body: json({
          type: "card.transaction", externalId: `CARD-${run}`,
          customer: { id: "C-1001", phone: "+4915112345678" },
          data: { text: "Card *1234: 25.00 EUR at Coffee Bar", amount: "25.00", currency: "EUR" },
        }),
      };
    case "mapped":
      return {
        contentType: "application/json",
        body: json({
          alerts: [
            { alertId: `FR-${run}-1`, severity: "HIGH", score: 0.97, message: "Did you just pay 899.00 EUR at ElectroWorld online?", customer: { id: "C-1001", contact: { msisdn: "+4915112345678" } } },
            { alertId: `FR-${run}-2`, severity: "MEDIUM", score: 0.66, message: "Card used abroad.", customer: { id: "C-1003", contact: { msisdn: "not-a-number" } } },
          ],
        }),
      };
    case "iso20022":
      return {
        contentType: "application/xml",
        body: `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>MSG-${run}</MsgId><CreDtTm>2026-11-24T11:00:00Z</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>NTF-${run}</Id>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>
      <Ntry>
        <Amt Ccy="EUR">12.34</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-11-24</Dt></BookgDt>
        <NtryDtls>
          <TxDtls>
            <Refs><AcctSvcrRef>${run}-1</AcctSvcrRef></Refs>
            <Amt Ccy="EUR">12.34</Amt>
            <RltdPties><Dbtr><Pty><Nm>Online Shop AG</Nm></Pty></Dbtr></RltdPties>
            <RmtInf><Ustrd>Refund order 9921</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
    </Ntfctn>
    <Ntfctn>
      <Id>NTF-${run}-2</Id>
      <Acct><Id><IBAN>DE02120300000000202051</IBAN></Id></Acct>
      <Ntry>
        <Amt Ccy="EUR">99.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-11-24</Dt></BookgDt>
        <NtryDtls><TxDtls><Refs><AcctSvcrRef>${run}-2</AcctSvcrRef></Refs><Amt Ccy="EUR">99.00</Amt></TxDtls></NtryDtls>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
`,
      };
    case "file": {
      const layout = (settings as { layout?: { format?: string } } | null)?.layout;
      if (layout?.format === "fixed") {
        return { contentType: "text/plain", body: "HEADER\nCRDE89370400440532013000000000125000EUR+4915112345678 Salary November\n" };
      }
      return {
        contentType: "text/csv",
        body: `booking_id;kind;customer_no;mobile;email;amount;currency;text
B-${run}-1;C;C-1001;+4915112345678;;1250.00;EUR;"Salary November; ACME GmbH"
B-${run}-2;X;C-1003;+4915112345679;;10.00;EUR;Unknown kind
`,
      };
    }
  }
}
