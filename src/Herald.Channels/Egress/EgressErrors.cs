using Herald.Core.Delivery;

namespace Herald.Channels.Egress;

/// <summary>How a send the egress guard stopped reads in an attempt.</summary>
public static class EgressErrors
{
    /// <summary>Error code of a send whose destination the egress guard refused: nothing was connected.</summary>
    public const string RefusedCode = "egress_refused";

    // The account points somewhere Herald may not go: no message gets through it until it is fixed.
    private static readonly TimeSpan AccountFaultPause = TimeSpan.FromSeconds(30);

    /// <summary>An account fault (transient, so the circuit opens and traffic moves to the channel's other accounts),
    /// in words that say neither what the name resolved to nor whether it resolved at all: a tenant must not learn
    /// the operator's internal DNS through it.</summary>
    public static SendOutcome Refused(string api) =>
        SendOutcome.Transient(RefusedCode,
            $"{api}: the destination is not a public address Herald may connect to (an operator can allow it with Herald:Egress:Allow)",
            AccountFaultPause);
}
