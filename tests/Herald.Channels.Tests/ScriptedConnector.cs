using System.Collections.Concurrent;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Channels.Tests;

/// <summary>
/// A connector double for dispatcher tests: each test scripts the answer per account (default: accepted, with the
/// provider message id <c>{account name}-{call number}</c>), or makes an account's next send hang until the
/// dispatcher's timeout or the caller cancels. It records every call and the attempt id each try carried.
/// </summary>
public sealed class ScriptedConnector(string kind) : IChannelConnector
{
    private readonly ConcurrentDictionary<Guid, Func<SendOutcome>> _scripts = new();
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _hangs = new();
    private readonly ConcurrentDictionary<Guid, int> _calls = new();

    public string Kind => kind;

    public Channel Channel => Channel.Sms;

    public ConcurrentBag<Guid> AttemptIds { get; } = [];

    /// <summary>The answer this account gives from now on; null restores the default (accepted).</summary>
    public void Script(ProviderAccount account, Func<SendOutcome>? answer)
    {
        if (answer is null)
        {
            _scripts.TryRemove(account.Id, out _);
        }
        else
        {
            _scripts[account.Id] = answer;
        }
    }

    /// <summary>The account's next send never answers; the task completes when that send has started.</summary>
    public TaskCompletionSource Hang(ProviderAccount account) =>
        _hangs[account.Id] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Calls(ProviderAccount account) => _calls.GetValueOrDefault(account.Id);

    public async Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct)
    {
        AttemptIds.Add(message.AttemptId);
        var n = _calls.AddOrUpdate(account.Id, 1, static (_, c) => c + 1);
        if (_hangs.TryRemove(account.Id, out var started))
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
        }

        return _scripts.TryGetValue(account.Id, out var answer)
            ? answer()
            : new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: $"{account.Name}-{n}");
    }
}
