namespace CatsDogs.ML.RabbitMQ;

/// <summary>Where the broker is and how work travels through it; shared by scatter, workers, gather and training.</summary>
/// <param name="Uri">The broker, <c>amqp://user:password@host:5672/vhost</c> (or <c>amqps://</c>).</param>
public sealed record BrokerOptions(string Uri)
{
    /// <summary>
    /// The largest message body scatter sends and workers accept, 64 MiB: the client's default limit, so
    /// <see cref="MaxInlineBytes"/> is at most this.
    /// </summary>
    public const int MaxMessageBodyBytes = 64 << 20;

    /// <summary>
    /// Deliveries of one photo before it is dead-lettered: a photo whose scoring kills or fails this many workers is
    /// reported by gather as skipped instead of being retried forever. Default 3.
    /// </summary>
    public int MaxDeliveries { get; init; } = 3;

    /// <summary>How long to keep trying to reach the broker at start (it may still be booting). Default 60 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Photos a worker scores at once; default the machine's cores.</summary>
    public int? Concurrency { get; init; }

    /// <summary>Unacknowledged photos a worker holds; default twice <see cref="Concurrency"/>, so that none waits on the network.</summary>
    public int? Prefetch { get; init; }

    /// <summary>Largest photo sent in a message (<c>--inline</c>); larger ones are reported as skipped. Default 8 MiB, at most 64 MiB (the largest message body a worker accepts).</summary>
    public int MaxInlineBytes { get; init; } = 8 << 20;

    /// <summary>
    /// Workers only: the folders whose files path orders may name (<c>--allow</c>), whatever the order says. Empty or
    /// null: the folders the order's job scattered, except system and hidden folders. Links are resolved before the
    /// check. Give them wherever others than your scatter can publish to the broker: the folders in an order are the
    /// order's word.
    /// </summary>
    public IReadOnlyList<string>? AllowedFolders { get; init; }

    /// <summary>The name connections show in the broker's management UI, after "catsdogs".</summary>
    public string? ClientName { get; init; }

    /// <summary>The options, checked.</summary>
    /// <exception cref="ArgumentException">The URI is not an amqp(s) URI, or a number is out of range.</exception>
    public BrokerOptions Validate()
    {
        if (!System.Uri.TryCreate(Uri, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps"))
        {
            throw new ArgumentException($"--broker '{Redacted(Uri)}' is not a broker URI; give amqp://user:password@host:5672/vhost.");
        }

        if (MaxDeliveries is < 1 or > 100)
        {
            throw new ArgumentException($"Max deliveries must be 1 to 100, not {MaxDeliveries}.");
        }

        if (Concurrency is < 1 or > 256 || Prefetch is < 1 or > 65535)
        {
            throw new ArgumentException("Concurrency must be 1 to 256 and prefetch 1 to 65535.");
        }

        if (MaxInlineBytes is < 1 or > Messages.MaxBodyBytes)
        {
            throw new ArgumentException($"The inline photo limit must be 1 byte to {Messages.MaxBodyBytes >> 20} MiB (the largest message a worker accepts), not {MaxInlineBytes:N0}.");
        }

        return this;
    }

    /// <summary>Photos scored at once.</summary>
    internal int EffectiveConcurrency => Concurrency ?? Environment.ProcessorCount;

    /// <summary>Unacknowledged photos held.</summary>
    internal ushort EffectivePrefetch => (ushort)(Prefetch ?? (2 * EffectiveConcurrency));

    /// <summary>The URI without its password, for messages and logs.</summary>
    public override string ToString() => Redacted(Uri);

    internal static string Redacted(string uri) =>
        System.Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && parsed.UserInfo.Contains(':')
            ? uri.Replace(parsed.UserInfo, parsed.UserInfo[..parsed.UserInfo.IndexOf(':')] + ":***", StringComparison.Ordinal)
            : uri;
}
