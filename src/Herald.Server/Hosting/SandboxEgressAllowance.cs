using System.Net;
using Herald.Channels.Egress;
using Herald.Sandbox;
using Herald.Sandbox.Smpp;
using Herald.Sandbox.Smtp;
using Microsoft.Extensions.Options;

namespace Herald.Server.Hosting;

/// <summary>
/// With the in-process sandbox on, tenants' sandbox accounts point at this node's own listeners: the HTTP simulators
/// under <c>/sandbox</c> on Herald's own address, the SMTP and SMPP simulators on their loopback ports. Exactly those
/// address-and-port pairs pass the egress guard — not loopback as a whole, and nothing private or link-local.
/// </summary>
public sealed class SandboxEgressAllowance(IOptions<SandboxOptions> sandbox, SelfAddress self, SmtpSimulator smtp, SmppSimulator smpp)
    : IEgressAllowance
{
    public IEnumerable<EgressRule> Rules
    {
        get
        {
            if (!sandbox.Value.Enabled)
            {
                yield break;
            }

            if (SelfRule() is { } http)
            {
                yield return http;
            }

            if (smtp.Port is { } smtpPort)
            {
                yield return EgressRule.Exactly(IPAddress.Parse(SmtpSimulator.Host), smtpPort);
            }

            if (smpp.Port is { } smppPort)
            {
                yield return EgressRule.Exactly(IPAddress.Parse(SmppSimulator.Host), smppPort);
            }
        }
    }

    private EgressRule? SelfRule()
    {
        string baseUrl;
        try
        {
            baseUrl = self.BaseUrl;
        }
        catch (InvalidOperationException)
        {
            return null;   // not listening yet: nothing to allow
        }

        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri))
        {
            return null;
        }

        return EgressAddresses.Literal(uri.Host) is { } address
            ? EgressRule.Exactly(address, uri.Port)
            : new EgressRule(EgressRule.NormalizeHost(uri.Host), null, uri.Port);
    }
}
