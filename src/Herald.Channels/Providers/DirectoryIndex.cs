using Herald.Core.Providers;

namespace Herald.Channels.Providers;

/// <summary>
/// A lookup a channel derives from the <see cref="ProviderDirectory"/>'s accounts (a WhatsApp phone number id, a
/// Telegram webhook secret), built the first time it is asked after a reload: the snapshot's account list is
/// immutable, so its identity tells whether the lookup is current. The directory itself knows no channel.
/// </summary>
public sealed class DirectoryIndex<T>(ProviderDirectory directory, Func<IReadOnlyList<ProviderAccount>, T> build)
    where T : class
{
    private volatile Built? _built;

    /// <summary>The lookup for the directory's current accounts.</summary>
    public T Current
    {
        get
        {
            var all = directory.All;
            if (_built is { } built && ReferenceEquals(built.Source, all))
            {
                return built.Index;
            }

            // Two callers may build at once after a reload: the same input gives the same lookup, the last one stays.
            var index = build(all);
            _built = new Built(all, index);
            return index;
        }
    }

    private sealed record Built(IReadOnlyList<ProviderAccount> Source, T Index);
}
