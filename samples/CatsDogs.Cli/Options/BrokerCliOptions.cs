using System.CommandLine;
using CatsDogs.ML.RabbitMQ;

namespace CatsDogs.Cli.Options;

/// <summary>The options of every command that talks to the broker (worker, scatter, gather, train --broker).</summary>
internal sealed class BrokerCliOptions(bool required)
{
    /// <summary>The broker when --broker is not given.</summary>
    public const string Variable = "CATSDOGS_BROKER";

    private readonly Option<string?> _broker = new("--broker")
    {
        Description = $"The RabbitMQ broker, amqp://user:password@host:5672/vhost (default ${Variable}).",
    };

    private readonly Option<int> _maxDeliveries = new("--max-deliveries")
    {
        Description = "Deliveries of one photo before it is dead-lettered and reported as skipped (a photo that keeps failing or killing workers).",
        DefaultValueFactory = _ => 3,
    };

    private readonly Option<double> _connectTimeout = new("--connect-timeout")
    {
        Description = "Seconds to keep trying to reach the broker at start.",
        DefaultValueFactory = _ => 60,
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public BrokerCliOptions AddTo(Command command)
    {
        if (required)
        {
            // Commands that only make sense with a broker take $CATSDOGS_BROKER; train goes remote only when asked.
            _broker.DefaultValueFactory = _ => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } uri ? uri : null;
        }

        command.Add(_broker);
        command.Add(_maxDeliveries);
        command.Add(_connectTimeout);
        return this;
    }

    /// <summary>Replaces the --broker description (train uses it for something else than a job).</summary>
    public void Describe(string description) => _broker.Description = description;

    /// <summary>Whether a broker was given (for train, where it is optional).</summary>
    public bool Given(ParseResult parse) => parse.GetValue(_broker) is not null;

    /// <summary>The broker options, checked.</summary>
    /// <exception cref="ArgumentException">No broker given, or a value is out of range.</exception>
    public BrokerOptions Build(ParseResult parse, int? concurrency = null, int? prefetch = null)
    {
        var uri = parse.GetValue(_broker) ?? (required
            ? throw new ArgumentException($"Give the broker with --broker amqp://user:password@host:5672/vhost or ${Variable}.")
            : throw new InvalidOperationException("No broker given."));
        var seconds = parse.GetValue(_connectTimeout);
        return new BrokerOptions(uri)
        {
            MaxDeliveries = parse.GetValue(_maxDeliveries),
            ConnectTimeout = seconds is > 0 and <= 3600 ? TimeSpan.FromSeconds(seconds) : throw new ArgumentException($"--connect-timeout must be 0 to 3600 seconds, not {seconds}."),
            Concurrency = concurrency,
            Prefetch = prefetch,
        }.Validate();
    }

    /// <summary>A --timeout option in seconds (0: wait as long as it takes).</summary>
    public static Option<double> Timeout(string what) => new("--timeout") { Description = $"Seconds to wait for {what} before giving up (0: as long as it takes).", DefaultValueFactory = _ => 0 };

    /// <summary>The value of a <see cref="Timeout"/> option.</summary>
    /// <exception cref="ArgumentException">Negative.</exception>
    public static TimeSpan? TimeoutOf(ParseResult parse, Option<double> option) => parse.GetValue(option) switch
    {
        0 => null,
        > 0 and var s => TimeSpan.FromSeconds(s),
        var s => throw new ArgumentException($"--timeout must be 0 or more seconds, not {s}."),
    };
}
