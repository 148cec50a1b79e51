import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** The protocol name members announce; every member of a group must use the same assigner. */
export const CO_PARTITIONED = 'VigieCoPartitioned';

/**
 * Gives each member whole partition *numbers*: partition p of every subscribed topic goes to the same member, as
 * Kafka Streams' assignor does for co-partitioned inputs. Producers send all of a key's events to the same partition
 * number of each topic (same count, same hash), so the member that owns p sees every event of its keys, whichever
 * topic carried them. Numbers are dealt round-robin over the members sorted by id (deterministic for one membership).
 */
export function assignCoPartitioned(
  memberIds: readonly string[],
  partitionsOf: ReadonlyMap<string, readonly number[]>,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  if (members.length === 0) return out;
  for (const [topic, partitions] of partitionsOf) {
    for (const p of [...partitions].sort((a, b) => a - b)) {
      const assignment = out.get(members[p % members.length] as string) as Record<string, number[]>;
      (assignment[topic] ??= []).push(p);
    }
  }
  return out;
}

/** The kafkajs assigner of {@link assignCoPartitioned}. */
export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED,
  version: 1,
  assign({ members, topics }) {
    const partitionsOf = new Map(
      topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).map((m) => m.partitionId)] as const),
    );
    const assignment = assignCoPartitioned(
      members.map((m) => m.memberId),
      partitionsOf,
    );
    return Promise.resolve(
      [...assignment].map(([memberId, a]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: a,
          userData: Buffer.alloc(0),
        }),
      })),
    );
  },
  protocol({ topics }) {
    return {
      name: CO_PARTITIONED,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
