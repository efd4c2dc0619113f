using System.CommandLine;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Data;
using CatsDogs.ML.RabbitMQ;

namespace CatsDogs.Cli.Commands;

/// <summary>
/// <c>catsdogs gather</c>: collect a job's answers until every photo is accounted for, and write the CSV of
/// <c>predict</c>. Its journal (<c>OUT.journal.jsonl</c>) lets a stopped gather go on where it was.
/// </summary>
internal static class GatherCommand
{
    public static Command Create(Cli cli)
    {
        var job = new Option<string>("--job") { Description = "The job scatter published.", Required = true };
        var outPath = new Option<string>("--out", "-o") { Description = "Write the CSV (path,dog_probability,label) here.", Required = true };
        var timeout = BrokerCliOptions.Timeout("the last answer");
        var command = new Command("gather", "Collect a job's answers from the broker until every photo is scored or skipped with its reason; write the CSV of 'predict'.")
        {
            job, outPath, timeout,
        };
        var brokerOptions = new BrokerCliOptions(required: true).AddTo(command);
        cli.SetAction(command, (parse, token) =>
        {
            var broker = brokerOptions.Build(parse);
            var file = OutputFile.Prepare(parse.GetRequiredValue(outPath));
            var journal = file + ".journal.jsonl";
            var limit = BrokerCliOptions.TimeoutOf(parse, timeout);
            var result = cli.WithProgress(progress => BrokerJobs.GatherAsync(parse.GetRequiredValue(job), broker, journal, limit, progress, token).GetAwaiter().GetResult());
            OutputFile.WriteText(file, result.Predictions.ToCsv());
            File.Delete(journal); // the CSV now holds everything the journal did
            cli.ReportSkipped(result.Predictions.Skipped);
            foreach (var refusal in result.Refused)
            {
                cli.Error.WriteLine($"refused: {refusal}");
            }

            cli.Error.WriteLine($"Scored {result.Predictions.Scored.Count}, skipped {result.Predictions.Skipped.Count}, listed {result.Predictions.Count}; {result.Duplicates} duplicate answers dropped, {result.Refused.Count} refused. Wrote {file}");
            return 0;
        });
        return command;
    }
}
